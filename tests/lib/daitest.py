"""Shared helpers for DispatchAI's integration and end-to-end tests.

Owns: finding the built daemons, free ports, a real Kafka broker started through
scripts/kafka-local, daemon processes with readiness waits, signed webhook
requests, and reading topics back with kcat. Tests never sleep blindly: they
poll for a condition with a deadline (wait_for).
"""
import hashlib
import hmac
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN_DIR = Path(os.environ.get("DAI_BIN_DIR", REPO / "bin"))
FIXTURES = REPO / "tests" / "fixtures"
RUN_DIR = REPO / ".run" / "test"


def free_port():
    """A TCP port that is free on 127.0.0.1 right now, below the ephemeral range
    (32768+) so outgoing connections of load tests cannot be holding it."""
    import random
    for _ in range(500):
        p = random.randint(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                continue
        with socket.socket() as s2:  # the port above too: kafka-local's controller wants it
            try:
                s2.bind(("127.0.0.1", p + 1))
            except OSError:
                continue
        return p
    raise RuntimeError("no free port found")


def wait_for(cond, timeout=30.0, interval=0.05, what="condition"):
    """Poll cond() until it returns a truthy value; return it, or fail after timeout."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            v = cond()
            if v:
                return v
        except Exception as e:  # the condition may fail while things start
            last_exc = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}"
                         + (f" (last error: {last_exc!r})" if last_exc else ""))


# ---- broker ---------------------------------------------------------------

class Broker:
    """A real Apache Kafka (KRaft) broker run by scripts/kafka-local."""

    def __init__(self, port=None, data_dir=None):
        self.port = port or free_port()
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="kafka-", dir=RUN_DIR))
        self.bootstrap = f"127.0.0.1:{self.port}"

    def _run(self, *args, timeout=180):
        cmd = [str(REPO / "scripts" / "kafka-local"), *args, "--data", str(self.data_dir)]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)

    def start(self):
        r = self._run("start", "--port", str(self.port))
        if r.returncode != 0:
            self._run("stop", timeout=60)
            raise RuntimeError(f"kafka-local start failed:\n{r.stdout}\n{r.stderr}")
        last = r.stdout.strip().splitlines()[-1]
        assert last == self.bootstrap, f"unexpected bootstrap line {last!r}"
        return self

    def stop(self):
        self._run("stop", timeout=120)

    def restart(self):
        self.stop()
        self.start()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def add_partitions(self, topic, total):
        """Grow an existing topic to `total` partitions (Kafka's own TopicCommand)."""
        r = subprocess.run(
            [str(REPO / "scripts" / "kafka-local"), "tool", "topics", "--bootstrap-server",
             self.bootstrap, "--alter", "--topic", topic, "--partitions", str(total)],
            capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(r.stdout + r.stderr)

    def create_topics(self, *topics, partitions=3):
        """Create topics (idempotent) in one JVM launch through kafka-local."""
        r = subprocess.run(
            [str(REPO / "scripts" / "kafka-local"), "create-topics", "--bootstrap",
             self.bootstrap, "--partitions", str(partitions), *topics],
            capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(r.stdout + r.stderr)


def free_port_range(n):
    """A base port B with B..B+n-1 all free on 127.0.0.1 right now (below the ephemeral range)."""
    import random
    for _ in range(500):
        base = random.randint(20000, 32000 - n)
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no {n} consecutive free ports found")


class Cluster(Broker):
    """A real Kafka cluster of `nodes` KRaft nodes (scripts/kafka-local start --nodes N):
    brokers on consecutive ports from self.port, controllers on the N ports after them.
    Topics get 3 replicas and min.insync.replicas=2 (with 3 or more nodes)."""

    def __init__(self, nodes=3, data_dir=None):
        super().__init__(port=free_port_range(2 * nodes), data_dir=data_dir)
        self.nodes = nodes
        self.bootstrap = ",".join(f"127.0.0.1:{self.port + k}" for k in range(nodes))

    def start(self):
        r = self._run("start", "--nodes", str(self.nodes), "--port", str(self.port), timeout=300)
        if r.returncode != 0:
            self._run("stop", timeout=120)
            raise RuntimeError(f"kafka-local start failed:\n{r.stdout}\n{r.stderr}")
        last = r.stdout.strip().splitlines()[-1]
        assert last == self.bootstrap, f"unexpected bootstrap line {last!r}"
        return self

    def kill(self, node):
        """SIGKILL one node (1-based)."""
        r = self._run("kill", str(node), timeout=60)
        assert r.returncode == 0, r.stderr

    def restart(self, node=None):
        """Start one node again (stopping it first if it runs), or the whole cluster."""
        if node is None:
            return super().restart()
        r = self._run("restart", str(node), timeout=180)
        assert r.returncode == 0, r.stderr

    def node_of_port(self, port):
        return port - self.port + 1

    def metadata(self):
        """{(topic, partition): {"leader": node or None, "isr": [nodes]}} from kcat -L."""
        import re
        r = subprocess.run(["kcat", "-b", self.bootstrap, "-L", "-m", "5"], capture_output=True,
                           text=True, timeout=30)
        out, topic = {}, None
        for line in r.stdout.splitlines():
            m = re.match(r'^\s+topic "([^"]+)" with', line)
            if m:
                topic = m.group(1)
                continue
            m = re.match(r"^\s+partition (\d+), leader (-?\d+), replicas: ([\d,]*), isrs: ([\d,]*)", line)
            if m and topic:
                leader = int(m.group(2))
                out[(topic, int(m.group(1)))] = {
                    "leader": leader if leader >= 0 else None,
                    "isr": [int(x) for x in m.group(4).split(",") if x]}
        return out

    def leader(self, topic, partition=0):
        return self.metadata().get((topic, partition), {}).get("leader")


def unique_topics(prefix="t"):
    """Per-test topic names so tests sharing one broker never see each other's data."""
    tag = uuid.uuid4().hex[:8]
    return {
        "KAFKA_TOPIC_RAW_ISSUES": f"{prefix}-{tag}.raw",
        "KAFKA_TOPIC_ENRICHED_ISSUES": f"{prefix}-{tag}.enriched",
        "KAFKA_TOPIC_DLQ": f"{prefix}-{tag}.raw.dlq",
    }


def consume(bootstrap, topic, read_committed=True, timeout=30, expect=None, extra=()):
    """Read a topic from the beginning to its end with kcat.

    Returns a list of dicts: key, headers (dict), value (parsed JSON when
    possible, else str), partition, offset, ts (message timestamp, ms). With expect=N, keeps re-reading
    until at least N messages are there (or the timeout passes).
    """
    def once():
        cmd = ["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-J",
               "-q", "-X", "isolation.level=" + ("read_committed" if read_committed
                                                 else "read_uncommitted"), *extra]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        out = []
        for line in r.stdout.splitlines():
            line = line.strip()
            if not line.startswith("{"):
                continue
            m = json.loads(line)
            h = m.get("headers") or []
            headers = {}
            for i in range(0, len(h) - 1, 2):
                headers[h[i]] = h[i + 1]
            val = m.get("payload")
            try:
                val = json.loads(val) if val is not None else None
            except ValueError:
                pass
            out.append({"key": m.get("key"), "headers": headers, "value": val,
                        "partition": m.get("partition"), "offset": m.get("offset"),
                        "ts": m.get("ts")})
        return out

    if expect is None:
        return once()
    got = []

    def enough():
        nonlocal got
        got = once()
        return len(got) >= expect
    try:
        wait_for(enough, timeout=timeout, interval=0.3, what=f"{expect} messages in {topic}")
    except AssertionError:
        pass
    return got


def produce(bootstrap, topic, key, value, headers=None):
    """Produce one message with kcat (value: str/bytes/dict)."""
    if isinstance(value, (dict, list)):
        value = json.dumps(value)
    if isinstance(value, str):
        value = value.encode()
    cmd = ["kcat", "-P", "-b", bootstrap, "-t", topic, "-k", key, "-X", "acks=all"]
    for k, v in (headers or {}).items():
        cmd += ["-H", f"{k}={v}"]
    subprocess.run(cmd, input=value, check=True, timeout=30)


# ---- daemons ----------------------------------------------------------------

class Daemon:
    """One DispatchAI daemon process (ingress, classifier, gateway)."""

    def __init__(self, name, port, env=None, args=(), log_dir=None):
        self.name = name
        self.port = port
        self.binary = BIN_DIR / f"dispatchai-{name}"
        self.env = dict(os.environ)
        self.env.update({k: str(v) for k, v in (env or {}).items()})
        self.args = list(args)
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = Path(log_dir or RUN_DIR) / f"{name}-{port}-{uuid.uuid4().hex[:6]}.log"
        self.proc = None

    def start(self, wait_ready=True, timeout=60):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([str(self.binary), *self.args], env=self.env,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        if wait_ready:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=60):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n"
                                     + self.logs()[-4000:])
            try:
                st, _, _ = request("GET", f"http://127.0.0.1:{self.port}/ready", timeout=2)
                return st == 200
            except OSError:
                return False
        wait_for(ready, timeout=timeout, interval=0.1, what=f"{self.name} /ready")

    def logs(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def send_signal(self, sig):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Stop the process; returns its exit code."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def kill9(self):
        return self.stop(sig=signal.SIGKILL)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"


# ---- HTTP -----------------------------------------------------------------

def request(method, url, body=None, headers=None, timeout=10):
    """One HTTP request; returns (status, headers dict with lower-case names, body bytes)."""
    assert url.startswith("http://")
    hostport, _, path = url[len("http://"):].partition("/")
    host, _, port = hostport.partition(":")
    conn = http.client.HTTPConnection(host, int(port or 80), timeout=timeout)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        conn.request(method, "/" + path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        conn.close()


def get_json(url, headers=None, timeout=10):
    st, h, data = request("GET", url, headers=headers, timeout=timeout)
    return st, (json.loads(data) if data else None)


def sign(secret, body):
    """GitHub's X-Hub-Signature-256 value for body (bytes)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def load_fixture(name):
    """A GitHub payload fixture from tests/fixtures/github/ as bytes."""
    return (FIXTURES / "github" / name).read_bytes()


def webhook_headers(event, body, secret, delivery=None, content_type="application/json"):
    h = {
        "Content-Type": content_type,
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "123456",
        "User-Agent": "GitHub-Hookshot/test",
    }
    if secret is not None:
        h["X-Hub-Signature-256"] = sign(secret, body)
    return h


# ---- schemas ----------------------------------------------------------------

def schema_validator(name):
    """A jsonschema validator for docs/schemas/<name>.schema.json (refs resolved locally)."""
    import jsonschema
    base = REPO / "docs" / "schemas"
    store = {}
    for p in base.glob("*.schema.json"):
        s = json.loads(p.read_text())
        store[s["$id"]] = s
        store[p.name] = s
    schema = store[f"{name}.schema.json"]
    resolver = jsonschema.RefResolver(base_uri=schema["$id"], referrer=schema, store=store)
    return jsonschema.Draft202012Validator(schema, resolver=resolver)


# ---- WebSocket ----------------------------------------------------------------

class WSClient:
    """A real WebSocket client (python websockets) on a background thread.

    Messages land in .messages (parsed JSON, in arrival order, with the
    monotonic receive time in .received_at). send() queues a JSON message."""

    def __init__(self, url, subscribe=None):
        import asyncio
        import queue
        import threading
        self.url = url
        self.subscribe = subscribe
        self.messages = []
        self.received_at = []
        self.closed = None            # (code, reason) once closed
        self._out = queue.Queue()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(15):
            raise AssertionError(f"WebSocket {url} did not connect")
        if self.closed and not self.messages:
            raise AssertionError(f"WebSocket {url} failed: {self.closed}")

    def _run(self):
        import asyncio
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    async def _main(self):
        import asyncio
        import websockets
        try:
            async with websockets.connect(self.url, max_size=None) as ws:
                self._ws = ws
                if self.subscribe is not None:
                    await ws.send(json.dumps({"type": "subscribe", "filter": self.subscribe}))
                self._ready.set()

                async def sender():
                    while True:
                        msg = await self._loop.run_in_executor(None, self._out.get)
                        if msg is None:
                            await ws.close()
                            return
                        await ws.send(json.dumps(msg))
                send_task = asyncio.ensure_future(sender())
                try:
                    async for raw in ws:
                        self.messages.append(json.loads(raw))
                        self.received_at.append(time.monotonic())
                finally:
                    self.closed = (ws.close_code, ws.close_reason)
                    self._out.put(None)
                    send_task.cancel()
        except Exception as e:
            self.closed = ("error", repr(e))
        finally:
            self._ready.set()

    def send(self, msg):
        self._out.put(msg)

    def wait(self, pred, timeout=15, what="WebSocket message"):
        """The first message matching pred (waiting for it)."""
        def find():
            for m in list(self.messages):
                if pred(m):
                    return m
            return None
        return wait_for(find, timeout=timeout, what=what)

    def updates(self):
        return [m for m in self.messages if m.get("type") == "issue_update"]

    def close(self):
        self._out.put(None)
        self._thread.join(timeout=10)
