"""The whole pipeline as processes for end-to-end and fault tests.

Owns: starting the fake LLM, ingress, classifier and gateway on free ports
against one broker and per-test topics; a load generator that sends signed
deliveries with unique GUIDs and records every answer; the final exactly-once
check that reads issues.enriched with a read_committed consumer; and the
guarantee report printed at the end of `make test`.
"""
import copy
import json
import sys
import threading
import time
import uuid
import http.client
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))
sys.path.insert(0, str(HERE.parent / "fake_llm"))

import daitest  # noqa: E402
import harness  # noqa: E402

SECRET = "e2e-webhook-secret-5f1c"
WRITE_TOKEN = "e2e-write-token-9a7d41"
REPORT = daitest.RUN_DIR / "guarantees.jsonl"


def record(name, **figures):
    """Append one guarantee check's figures to the report printed by conftest."""
    daitest.RUN_DIR.mkdir(parents=True, exist_ok=True)
    with open(REPORT, "a") as f:
        f.write(json.dumps({"check": name, **figures}) + "\n")


class Stack:
    """Fake LLM + ingress + classifier + gateway on one broker."""

    def __init__(self, broker, topics, llm_args=()):
        self.broker = broker
        self.topics = topics
        self.llm = harness.FakeLLM(*llm_args)
        self.txn_id = f"e2e-{uuid.uuid4().hex[:8]}"
        self.group = f"e2e-cls-{uuid.uuid4().hex[:8]}"
        self.ingress = self.classifier = self.gateway = None

    def base_env(self):
        e = {"KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap, "HTTP_BIND": "127.0.0.1",
             "LOG_LEVEL": "info"}
        e.update(self.topics)
        return e

    def make_ingress(self, port=None):
        port = port or daitest.free_port()
        env = self.base_env()
        env.update({"INGRESS_PORT": port, "GITHUB_WEBHOOK_SECRET": SECRET,
                    "DISPATCHAI_CONFIG": str(daitest.REPO / "config" / "ingress.conf")})
        return daitest.Daemon("ingress", port, env=env)

    def make_classifier(self, port=None):
        d = harness.classifier(self.broker.bootstrap, self.topics, llm=self.llm,
                               txn_id=self.txn_id, port=port,
                               env={"CLASSIFIER_GROUP_ID": self.group})
        return d

    def make_gateway(self, port=None):
        port = port or daitest.free_port()
        env = self.base_env()
        env.update({"GATEWAY_PORT": port, "GATEWAY_PUBLIC_READ": "true",
                    "GATEWAY_API_TOKENS": f"e2e:{WRITE_TOKEN}:read+write",
                    "DISPATCHAI_CONFIG": str(daitest.REPO / "config" / "gateway.conf")})
        return daitest.Daemon("gateway", port, env=env)

    def start(self):
        self.llm.start()
        # Topics exist before any daemon starts, so no daemon races another's creation.
        self.broker.create_topics(*self.topics.values())
        self.ingress = self.make_ingress().start()
        self.classifier = self.make_classifier().start()
        self.gateway = self.make_gateway().start()
        return self

    def stop(self):
        codes = {}
        for name in ("ingress", "classifier", "gateway"):
            d = getattr(self, name)
            if d:
                codes[name] = d.stop()
        self.llm.stop()
        return codes

    # ---- deliveries ----

    def deliver(self, event, payload, delivery=None, timeout=15):
        """POST one signed delivery; returns (status, parsed body, delivery id)."""
        body = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
        delivery = delivery or str(uuid.uuid4())
        h = daitest.webhook_headers(event, body, SECRET, delivery=delivery)
        st, _, data = daitest.request("POST", f"{self.ingress.url}/webhook/github", body, h,
                                      timeout=timeout)
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = data
        return st, parsed, delivery

    def enriched(self, expect=None, timeout=60):
        return daitest.consume(self.broker.bootstrap, self.topics["KAFKA_TOPIC_ENRICHED_ISSUES"],
                               expect=expect, timeout=timeout)

    def raw(self, expect=None, timeout=60):
        return daitest.consume(self.broker.bootstrap, self.topics["KAFKA_TOPIC_RAW_ISSUES"],
                               expect=expect, timeout=timeout)


def issue_payload(number, title=None, body=None, action="opened", repo="testorg/testrepo"):
    """A realistic issues.<action> payload (from the fixtures) for issue `number`."""
    name = {"opened": "issues.opened.json", "edited": "issues.edited.json",
            "labeled": "issues.labeled.json", "closed": "issues.closed.json",
            "reopened": "issues.reopened.json"}[action]
    p = json.loads(daitest.load_fixture(name))
    p["action"] = action
    iss = p["issue"]
    iss["number"] = number
    iss["id"] = 2_000_000_000 + number
    iss["html_url"] = f"https://github.com/{repo}/issues/{number}"
    if title is not None:
        iss["title"] = title
    if body is not None:
        iss["body"] = body
    owner, _, name_ = repo.partition("/")
    p["repository"]["full_name"] = repo
    p["repository"]["name"] = name_
    p["repository"]["owner"]["login"] = owner
    return p


def comment_payload(number, text, repo="testorg/testrepo"):
    p = json.loads(daitest.load_fixture("issue_comment.created.json"))
    p["issue"]["number"] = number
    p["issue"]["id"] = 2_000_000_000 + number
    p["comment"]["body"] = text
    owner, _, name_ = repo.partition("/")
    p["repository"]["full_name"] = repo
    p["repository"]["name"] = name_
    p["repository"]["owner"]["login"] = owner
    return p


class LoadGenerator(threading.Thread):
    """Sends signed issues.opened deliveries with unique GUIDs at a steady rate
    from several connections, recording every answer by GUID."""

    def __init__(self, stack, total, rate=300, connections=4, first_number=100000):
        super().__init__(daemon=True)
        self.stack = stack
        self.total = total
        self.rate = rate
        self.connections = connections
        self.first_number = first_number
        self.results = {}          # guid -> status (or exception name)
        self.answers = []          # (monotonic time sent, time answered, status), in answer order
        self.accepted = set()      # guids answered 202 accepted
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.template = issue_payload(1)
        self.sent = 0

    def _one(self, conn, i):
        p = copy.deepcopy(self.template)
        n = self.first_number + i
        p["issue"]["number"] = n
        p["issue"]["id"] = 3_000_000_000 + n
        p["issue"]["title"] = f"Crash #{n} when saving a file with unicode name"
        body = json.dumps(p).encode()
        guid = str(uuid.uuid4())
        h = daitest.webhook_headers("issues", body, SECRET, delivery=guid)
        t_sent = time.monotonic()
        try:
            conn.request("POST", "/webhook/github", body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
            st = r.status
            ok = st == 202 and json.loads(data).get("status") == "accepted"
        except Exception as e:  # broker down, daemon stopping: the answer is a failure
            st, ok = type(e).__name__, False
            conn.close()
        with self.lock:
            self.results[guid] = st
            self.answers.append((t_sent, time.monotonic(), st))
            if ok:
                self.accepted.add(guid)

    def _worker(self, wid):
        conn = http.client.HTTPConnection("127.0.0.1", self.stack.ingress.port, timeout=15)
        per_conn_interval = self.connections / float(self.rate)
        i = wid
        next_t = time.monotonic()
        while i < self.total and not self.stop_flag.is_set():
            # The ingress may have been restarted on the same port: reconnect lazily.
            conn.port = self.stack.ingress.port
            self._one(conn, i)
            i += self.connections
            next_t += per_conn_interval
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        conn.close()

    def run(self):
        ts = [threading.Thread(target=self._worker, args=(w,), daemon=True)
              for w in range(self.connections)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    def stop(self):
        self.stop_flag.set()
        self.join(timeout=60)


def exactly_once(stack, accepted, timeout=120):
    """Read issues.enriched (read_committed) until every accepted GUID is
    there; return (found_once, missing, duplicated) by GUID."""
    counts = {}

    def done():
        counts.clear()
        for m in stack.enriched():
            guid = m["headers"].get("x-github-delivery") or (m["value"] or {}).get("delivery_id")
            counts[guid] = counts.get(guid, 0) + 1
        return all(g in counts for g in accepted)
    try:
        daitest.wait_for(done, timeout=timeout, interval=1.0, what="every accepted delivery "
                         "in issues.enriched")
    except AssertionError:
        pass
    missing = [g for g in accepted if g not in counts]
    dup = [g for g, c in counts.items() if c > 1]
    once = [g for g in accepted if counts.get(g) == 1]
    return once, missing, dup


def run_with_fault(stack, name, inject, total=1500, rate=250, extra=None):
    """Load through the stack, `inject(gen)` a fault once 200 deliveries were acknowledged
    (it returns how many faults it injected), then check every acknowledged GUID is in
    issues.enriched exactly once; records the figures (plus `extra`) in the report."""
    gen = LoadGenerator(stack, total=total, rate=rate)
    gen.start()
    daitest.wait_for(lambda: len(gen.accepted) >= 200, timeout=60,
                     what="200 accepted before the fault")
    faults = inject(gen)
    gen.join(timeout=300)
    assert not gen.is_alive(), "load generator did not finish"
    accepted = set(gen.accepted)
    once, missing, dup = exactly_once(stack, accepted)
    record(name, sent=len(gen.results), acknowledged=len(accepted), found_exactly_once=len(once),
           missing=len(missing), duplicated=len(dup), faults_injected=faults, **(extra or {}))
    print(f"\n{name}: sent {len(gen.results)}, acknowledged {len(accepted)}, "
          f"exactly once {len(once)}, missing {len(missing)}, duplicated {len(dup)}, "
          f"faults {faults}" + (f", {extra}" if extra else ""))
    assert not missing, f"{len(missing)} acknowledged deliveries lost, e.g. {missing[:3]}"
    assert not dup, f"{len(dup)} deliveries duplicated, e.g. {dup[:3]}"
    assert len(accepted) > 0
    return gen
