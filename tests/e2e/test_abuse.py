"""Hostile HTTP clients against the ingress and the gateway: slow and
oversized headers, idle connection floods, truncated bodies, invalid UTF-8,
deep nesting, huge numbers (dead-lettered, never lost), duplicate keys, a
WebSocket ping flood. The daemons answer with exact statuses, keep serving
well-behaved clients, and never crash."""
import asyncio
import base64
import json
import os
import socket
import struct
import sys
import threading
import time
from pathlib import Path

import pytest
import websockets

import daitest
from stack import SECRET, WRITE_TOKEN, Stack, issue_payload, record

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from test_gateway_support import enriched, produce_events  # noqa: E402


@pytest.fixture(scope="module")
def daemons(broker):
    topics = daitest.unique_topics("abuse")
    s = Stack(broker, topics)
    broker.create_topics(*topics.values())
    s.ingress = s.make_ingress()
    s.ingress.env.update({"HTTP_IDLE_TIMEOUT": "2s", "HTTP_MAX_CONNECTIONS": "600"})
    s.ingress.start()
    s.gateway = s.make_gateway()
    s.gateway.env.update({"HTTP_IDLE_TIMEOUT": "2s", "HTTP_MAX_CONNECTIONS": "600"})
    s.gateway.start()
    yield s
    codes = {n: getattr(s, n).stop() for n in ("ingress", "gateway")}
    assert codes == {"ingress": 0, "gateway": 0}, codes


def healthy(d, timeout=2):
    t0 = time.monotonic()
    st, _, _ = daitest.request("GET", f"{d.url}/health", timeout=timeout)
    return st == 200 and time.monotonic() - t0 < timeout


def raw_exchange(port, data, read=True, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        if not read:
            return b""
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def status_of(resp):
    line = resp.split(b"\r\n", 1)[0]
    return int(line.split()[1]) if line.startswith(b"HTTP/") else None


def signed_post(d, body, event="issues"):
    h = daitest.webhook_headers(event, body, SECRET)
    return daitest.request("POST", f"{d.url}/webhook/github", body, h)


@pytest.mark.parametrize("name", ["ingress", "gateway"])
def test_slowloris_headers_do_not_block_others(daemons, name):
    d = getattr(daemons, name)
    socks = []
    stop = threading.Event()
    for _ in range(50):
        s = socket.create_connection(("127.0.0.1", d.port))
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)

    def trickle():
        while not stop.is_set():
            for s in socks:
                try:
                    s.sendall(b"X-a: b\r\n")
                except OSError:
                    pass
            time.sleep(0.3)
    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    try:
        for _ in range(10):
            assert healthy(d), f"{name} stopped serving during a slow-header attack"
    finally:
        stop.set()
        t.join()
        for s in socks:
            s.close()


@pytest.mark.parametrize("name", ["ingress", "gateway"])
def test_oversized_headers_rejected(daemons, name):
    d = getattr(daemons, name)
    req = (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n")
    try:
        resp = raw_exchange(d.port, req)
        assert status_of(resp) in (400, 413, 431), resp[:200]
    except (ConnectionResetError, BrokenPipeError):
        pass  # closing the connection is an acceptable answer to 200 KB of headers
    assert healthy(d)


@pytest.mark.parametrize("name", ["ingress", "gateway"])
def test_idle_connection_flood_is_reaped(daemons, name):
    d = getattr(daemons, name)
    socks = [socket.create_connection(("127.0.0.1", d.port)) for _ in range(300)]
    try:
        assert healthy(d)
        # The idle timeout (2 s here) closes them: a read sees EOF.
        s = socks[0]
        s.settimeout(10)
        t0 = time.monotonic()
        assert s.recv(1) == b""
        assert time.monotonic() - t0 < 9
    finally:
        for s in socks:
            s.close()
    assert healthy(d)


def test_ingress_truncated_body(daemons):
    d = daemons.ingress
    body = json.dumps(issue_payload(1)).encode()
    h = daitest.webhook_headers("issues", body, SECRET)
    head = "POST /webhook/github HTTP/1.1\r\nHost: x\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in h.items()) + f"Content-Length: {len(body)}\r\n\r\n"
    raw_exchange(d.port, head.encode() + body[:100], read=False)
    assert healthy(d)


def test_ingress_invalid_utf8_is_400(daemons):
    body = json.dumps(issue_payload(2)).encode().replace(b"App", b"\xff\xfe", 1)
    st, _, data = signed_post(daemons.ingress, body)
    assert st == 400, data
    assert json.loads(data)["error"]["code"]


def test_ingress_deeply_nested_json_is_400(daemons):
    body = b'{"action":"opened","x":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    st, _, data = signed_post(daemons.ingress, body)
    assert st == 400, data[:200]
    assert healthy(daemons.ingress)


def test_ingress_huge_numbers_are_dead_lettered(daemons):
    # Valid JSON, signed, but an issue number no consumer can hold: not lost
    # (GitHub does not retry a 400), acknowledged on the dead-letter topic.
    p = issue_payload(3)
    body = json.dumps(p).encode().replace(b'"number": 3', b'"number": 1' + b"0" * 400, 1)
    assert b"1" + b"0" * 400 in body
    st, _, data = signed_post(daemons.ingress, body)
    assert st == 202, data[:200]
    resp = json.loads(data)
    assert resp["status"] == "dead_lettered" and "issue.number" in resp["reason"]
    assert healthy(daemons.ingress)


def test_ingress_duplicate_keys_handled(daemons):
    body = json.dumps(issue_payload(4)).encode()
    body = b'{"action":"bogus",' + body[1:]
    st, _, data = signed_post(daemons.ingress, body)
    assert st in (202, 400), data[:200]
    assert healthy(daemons.ingress)


def test_gateway_hostile_queries(daemons):
    g = daemons.gateway
    for q in ["cursor=%ff%fe", "cursor=" + "A" * 10000, "limit=-1", "limit=99999999999999999999",
              "since=yesterday", "category=bug%00", "q=" + "%" * 50, "repo=" + "x" * 5000]:
        st, _, data = daitest.request("GET", f"{g.url}/api/issues?{q}")
        assert st == 400 or st == 200, (q, st, data[:200])
        if st == 400:
            assert json.loads(data)["error"]["code"]
    assert healthy(g)


def test_gateway_hostile_correction_bodies(daemons):
    g = daemons.gateway
    auth = {"Authorization": f"Bearer {WRITE_TOKEN}", "Content-Type": "application/json"}
    url = f"{g.url}/api/issues/testorg/testrepo/1/correction"
    for body in [b"\xff\xfe", b"[" * 10_000, b'{"category":"bug","category":"nope"}',
                 b'{"confidence":1' + b"0" * 400 + b"}"]:
        st, _, data = daitest.request("POST", url, body, auth)
        assert st in (400, 404), (body[:20], st, data[:200])
    # An oversized body is refused from its Content-Length, before it is read.
    head = (f"POST /api/issues/testorg/testrepo/1/correction HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {WRITE_TOKEN}\r\nContent-Type: application/json\r\n"
            f"Content-Length: 300000000\r\n\r\n{{").encode()
    assert status_of(raw_exchange(g.port, head)) == 413
    assert healthy(g)


# ---- WebSocket flood --------------------------------------------------------------

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def ws_handshake(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        assert chunk, "closed during the handshake"
        buf += chunk
    assert buf.split()[1] == b"101", buf[:200]
    return s, buf.split(b"\r\n\r\n", 1)[1]


def server_frames(s, buf, timeout=15):
    """Every frame the server sent until its close frame (or EOF); [(opcode, payload)]."""
    s.settimeout(timeout)
    out = []
    while True:
        while len(buf) >= 2:
            n, off = buf[1] & 0x7F, 2
            if n == 126:
                n, off = (struct.unpack("!H", buf[2:4])[0], 4) if len(buf) >= 4 else (1 << 62, 0)
            elif n == 127:
                n, off = (struct.unpack("!Q", buf[2:10])[0], 10) if len(buf) >= 10 else (1 << 62, 0)
            if len(buf) < off + n:
                break
            out.append((buf[0] & 0x0F, buf[off:off + n]))
            buf = buf[off + n:]
            if out[-1][0] == 0x8:
                return out
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            return out
        if not chunk:
            return out
        buf += chunk


def test_gateway_ws_ping_flood_does_not_hurt_other_clients(daemons):
    """One raw client floods 125-byte pings and never reads, next to 100 normal
    clients: the normal clients keep receiving updates within the usual lag, the
    gateway's memory stays flat, and the flooder is closed with 1008."""
    g = daemons.gateway
    topic = daemons.topics["KAFKA_TOPIC_ENRICHED_ISSUES"]
    n_clients, flood_s = 100, 6.0
    sent_at = {}
    lag = {}  # number -> worst lag over all clients (s)
    received = {}  # number -> clients that got it

    async def client(ready, stop):
        async with websockets.connect(f"ws://127.0.0.1:{g.port}/ws", open_timeout=30,
                                      max_queue=None) as ws:
            assert json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] == "hello"
            ready.release()
            while not stop.is_set():
                try:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                except asyncio.TimeoutError:
                    continue
                if msg.get("type") != "issue_update":
                    continue
                n = msg["data"]["issue"]["number"]
                now = time.monotonic()
                received[n] = received.get(n, 0) + 1
                lag[n] = max(lag.get(n, 0.0), now - sent_at[n])

    async def publish(first, count, pause):
        for n in range(first, first + count):
            sent_at[n] = time.monotonic()
            await asyncio.to_thread(produce_events, daemons.broker.bootstrap, topic,
                                    [enriched(repo="flood/test", number=n)])
            await asyncio.sleep(pause)

    async def all_received(numbers, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(received.get(n, 0) == n_clients for n in numbers):
                return True
            await asyncio.sleep(0.05)
        return False

    flood = {"pings": 0, "error": None}

    def flooder(sock, stop_at):
        mask = os.urandom(4)
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(os.urandom(125)))
        chunk = (struct.pack("!BB", 0x89, 0x80 | 125) + mask + payload) * 256
        sock.settimeout(0.5)
        while time.monotonic() < stop_at:
            try:
                sock.sendall(chunk)
                flood["pings"] += 256
            except socket.timeout:
                continue  # the gateway stopped reading from us: keep pushing
            except OSError as e:
                flood["error"] = e  # closed by the gateway
                return

    async def go():
        ready, stop = asyncio.Semaphore(0), asyncio.Event()
        tasks = [asyncio.create_task(client(ready, stop)) for _ in range(n_clients)]
        for _ in range(n_clients):
            await asyncio.wait_for(ready.acquire(), 60)
        # The usual lag: updates to the 100 clients with nobody misbehaving.
        await publish(1, 5, 0.2)
        assert await all_received(range(1, 6), 30), received
        usual = max(lag[n] for n in range(1, 6))
        rss_before = rss_kib(g.proc.pid)

        sock, rest = ws_handshake(g.port)
        th = threading.Thread(target=flooder, args=(sock, time.monotonic() + flood_s))
        th.start()
        try:
            await asyncio.sleep(0.5)  # the flood is under way
            await publish(101, 10, 0.4)
            got_all = await all_received(range(101, 111), 10)
            rss_after = rss_kib(g.proc.pid)
        finally:
            await asyncio.to_thread(th.join)
        stop.set()
        await asyncio.gather(*tasks)
        frames = server_frames(sock, rest)
        sock.close()
        return usual, got_all, rss_before, rss_after, frames

    usual, got_all, rss_before, rss_after, frames = asyncio.run(
        asyncio.wait_for(go(), 180))
    flood_lag = max(lag.get(n, float("inf")) for n in range(101, 111))
    print(f"usual lag {usual:.3f}s, lag under flood {flood_lag:.3f}s, "
          f"RSS {rss_before} -> {rss_after} KiB, pings sent {flood['pings']}")
    assert flood["pings"] >= 2000, "the flood did not happen"
    assert got_all, {n: received.get(n, 0) for n in range(101, 111)}
    assert flood_lag < usual + 1.0, (usual, flood_lag)
    assert rss_after - rss_before < 16 * 1024, (rss_before, rss_after)
    closes = [p for op, p in frames if op == 0x8]
    assert closes and struct.unpack("!H", closes[0][:2])[0] == 1008, frames[-3:]
    assert healthy(g)


def _rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_ingress_body_budget_bounds_memory_of_slow_large_uploads(broker):
    """Many slow large uploads at once: the daemon admits only what fits
    http.body_budget (the rest is 503 + Retry-After before their bodies are
    read), its RSS stays under the budget, and small deliveries are served."""
    budget_mib, clients, announced_mib, sent_mib = 64, 24, 24, 16
    topics = daitest.unique_topics("budget")
    s = Stack(broker, topics)
    broker.create_topics(*topics.values())
    d = s.make_ingress()
    d.env.update({"INGRESS_BODY_BUDGET": f"{budget_mib}MiB", "HTTP_MAX_CONNECTIONS": "600",
                  "HTTP_REQUEST_TIMEOUT": "60s", "INGRESS_PUBLISH_TIMEOUT": "5s"})
    if "ASAN_OPTIONS" in d.env:
        # Under `make sanitize`, ASan's quarantine keeps freed buffers resident (256 MiB by
        # default), which RSS would count as ours; keep it small so RSS is live memory.
        d.env["ASAN_OPTIONS"] += ":quarantine_size_mb=1:thread_local_quarantine_size_kb=64"
    d.start()
    socks, results, lock = [], [], threading.Lock()
    sent_all = threading.Barrier(clients + 1, timeout=120)
    try:
        # Warm up (threads, buffers, producer) before the baseline.
        for i in range(5):
            assert signed_post(d, json.dumps(issue_payload(900 + i)).encode())[0] == 202
        base_kib = _rss_kib(d.proc.pid)
        chunk = b"x" * (1024 * 1024)

        def upload():
            h = daitest.webhook_headers("issues", b"{}", SECRET)
            head = (f"POST /webhook/github HTTP/1.1\r\nHost: x\r\n"
                    f"Content-Length: {announced_mib * 1024 * 1024}\r\n"
                    + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n").encode()
            c = socket.create_connection(("127.0.0.1", d.port), timeout=30)
            with lock:
                socks.append(c)
            c.sendall(head)
            c.settimeout(1.0)
            try:
                answer = c.recv(4096)  # refused before the body, or nothing yet
            except socket.timeout:
                answer = b""
            if answer:
                with lock:
                    results.append(("refused", answer))
            else:
                c.settimeout(30)
                for _ in range(sent_mib):  # then it stalls, holding what it sent
                    c.sendall(chunk)
                with lock:
                    results.append(("admitted", b""))
            sent_all.wait()

        threads = [threading.Thread(target=upload, daemon=True) for _ in range(clients)]
        for t in threads:
            t.start()
        sent_all.wait()  # every admitted upload has sent its 16 MiB and stalls
        peak_kib = _rss_kib(d.proc.pid)
        # Small deliveries are still served while the big ones hold the budget.
        for i in range(10):
            st, _, data = signed_post(d, json.dumps(issue_payload(1000 + i)).encode())
            assert st == 202, data[:200]
            peak_kib = max(peak_kib, _rss_kib(d.proc.pid))
        admitted = [r for r in results if r[0] == "admitted"]
        refused = [r for r in results if r[0] == "refused"]
        grown_mib = (peak_kib - base_kib) / 1024
        assert grown_mib < budget_mib, (f"RSS grew by {grown_mib:.0f} MiB (budget {budget_mib}); "
                                        f"admitted={len(admitted)} refused={len(refused)}")
        assert len(admitted) <= budget_mib // announced_mib, (len(admitted), len(refused))
        assert len(refused) >= clients - budget_mib // announced_mib
        assert all(status_of(a) == 503 and b"retry-after:" in a.lower() for _, a in refused), \
            refused[0][1][:300]
        record("ingress_body_budget", clients=clients, admitted=len(admitted),
                       refused=len(refused), rss_growth_mib=round(grown_mib, 1),
                       budget_mib=budget_mib)
    finally:
        for c in socks:
            c.close()
        assert d.stop() == 0
