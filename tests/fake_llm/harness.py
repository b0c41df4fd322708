"""Test helpers for the classifier: raw events built per docs/events.md, the
fake LLM as a process with its control API, a classifier daemon wired to a
broker and (optionally) the fake LLM, bulk produce, and /metrics parsing.

Used by tests/integration/test_classifier*.py and scripts/bench-classifier;
builds on tests/lib/daitest.py (Broker, Daemon, consume, wait_for).
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "lib"))

import daitest  # noqa: E402

FAKE_LLM = HERE / "fake_llm.py"
PYTHON = os.environ.get("PYTHON", sys.executable or "/usr/bin/python3")

CATEGORIES = {"bug", "feature_request", "enhancement", "documentation", "question", "security"}
PRIORITIES = {"critical", "high", "medium", "low"}
EFFORTS = {"small", "medium", "large", "extra_large"}
TEAMS = {"backend", "frontend", "infrastructure", "security", "docs"}


# ---- raw events ----------------------------------------------------------

def raw_event(number, action="opened", title=None, body="It crashes with a traceback.",
              event_type="issue", repo="acme/app", labels=(), changes=None, delivery=None):
    """A schema-version-1 raw event as the ingress writes it. Returns (key, event)."""
    subject = "pull_request" if event_type == "pull_request" else "issue"
    owner, name = repo.split("/")
    obj = {
        "id": 100000 + number, "number": number,
        "title": title if title is not None else f"App crashes on save #{number}",
        "body": body, "state": "open",
        "labels": [{"name": l, "color": "ededed"} for l in labels],
        "user": {"login": "octocat", "id": 3}, "assignees": [],
        "html_url": f"https://github.com/{repo}/issues/{number}",
        "created_at": "2026-11-29T09:00:00Z", "updated_at": "2026-11-29T09:00:00Z",
    }
    if subject == "pull_request":
        obj.update({"draft": False, "merged": False, "head_ref": "fix", "base_ref": "main"})
    else:
        obj["is_pull_request"] = False
    ev = {
        "schema_version": 1, "event_type": event_type, "action": action,
        "timestamp": "2026-11-29T10:00:00.000Z",
        "delivery_id": delivery or str(uuid.uuid4()),
        "repository": {"id": 1, "name": name, "full_name": repo, "private": False,
                       "owner": {"login": owner, "id": 2},
                       "html_url": f"https://github.com/{repo}"},
        "sender": {"login": "octocat", "id": 3, "type": "User"},
        subject: obj,
    }
    if event_type == "issue_comment":
        ev["comment"] = {"id": 7000 + number, "body": "Same here.",
                         "user": {"login": "someone", "id": 4},
                         "html_url": f"https://github.com/{repo}/issues/{number}#c",
                         "created_at": "2026-11-29T09:30:00Z",
                         "updated_at": "2026-11-29T09:30:00Z"}
    if changes is not None:
        ev["changes"] = list(changes)
    return f"{repo}:{subject}:{number}", ev


def produce_many(bootstrap, topic, messages, headers=None):
    """Produce (key, value) pairs in order with one kcat process; value: dict or str."""
    lines = []
    for key, value in messages:
        if isinstance(value, (dict, list)):
            value = json.dumps(value)
        assert "\t" not in key and "\n" not in value, "kcat line framing"
        lines.append(f"{key}\t{value}")
    cmd = ["kcat", "-P", "-b", bootstrap, "-t", topic, "-K", "\t", "-X", "acks=all",
           "-X", "linger.ms=5"]
    for k, v in (headers or {}).items():
        cmd += ["-H", f"{k}={v}"]
    subprocess.run(cmd, input=("\n".join(lines) + "\n").encode(), check=True, timeout=120)


# ---- the fake LLM ----------------------------------------------------------

class FakeLLM:
    """tests/fake_llm/fake_llm.py as a child process."""

    def __init__(self, *args):
        self.args = list(args)
        self.proc = None
        self.port = None

    def start(self):
        self.proc = subprocess.Popen([PYTHON, str(FAKE_LLM), "--port", "0", *self.args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"listening on [\d.]+:(\d+)", line)
        if not m:
            self.proc.kill()
            raise RuntimeError(f"fake LLM did not start: {line!r}")
        self.port = int(m.group(1))
        return self

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}/v1"

    def control(self, **knobs):
        st, _, body = daitest.request("POST", f"http://127.0.0.1:{self.port}/control", knobs)
        assert st == 200, body
        return json.loads(body)

    def stats(self):
        st, _, body = daitest.request("GET", f"http://127.0.0.1:{self.port}/stats")
        assert st == 200
        return json.loads(body)

    def reset(self):
        daitest.request("POST", f"http://127.0.0.1:{self.port}/reset", {})

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---- the classifier --------------------------------------------------------

def classifier(bootstrap, topics, llm=None, txn_id=None, group=None, env=None, args=(),
               port=None):
    """A dispatchai-classifier Daemon (not started) on the given topics. A
    restart of "the same" classifier passes the same txn_id and group."""
    port = port or daitest.free_port()
    e = {
        "DISPATCHAI_CONFIG": str(REPO / "config" / "classifier.conf"),
        "LLM_PROMPT_FILE": str(REPO / "config" / "prompt.txt"),
        "CLASSIFIER_OFFLINE_MODEL": os.environ.get(
            "CLASSIFIER_OFFLINE_MODEL", str(REPO / "classifier" / "model" / "offline-model.bin")),
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "CLASSIFIER_PORT": str(port),
        "HTTP_BIND": "127.0.0.1",
        "CLASSIFIER_TRANSACTIONAL_ID": txn_id or f"cls-test-{uuid.uuid4().hex[:8]}",
        # each test has its own group, so tests sharing the broker never meet
        "CLASSIFIER_GROUP_ID": group or f"cls-{uuid.uuid4().hex[:8]}",
        "LLM_BASE_URL": llm.base_url if llm else "",
        "LLM_BACKOFF_BASE": "50ms",
        "LLM_BACKOFF_MAX": "500ms",
        "LOG_LEVEL": "info",
    }
    e.update(topics)
    e.update({k: str(v) for k, v in (env or {}).items()})
    return daitest.Daemon("classifier", port, env=e, args=args)


def metrics(daemon):
    """/metrics as {"name{labels}": value}."""
    st, _, body = daitest.request("GET", f"{daemon.url}/metrics")
    assert st == 200
    out = {}
    for line in body.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        out[name] = float(value)
    return out


def metric(daemon, name, default=0.0):
    return metrics(daemon).get(name, default)


def enriched(bootstrap, topics, expect=None, timeout=60, read_committed=True):
    return daitest.consume(bootstrap, topics["KAFKA_TOPIC_ENRICHED_ISSUES"],
                           read_committed=read_committed, expect=expect, timeout=timeout)


def check_enriched(msg, raw=None):
    """Assert one enriched message has the documented shape; returns its value."""
    v = msg["value"]
    assert isinstance(v, dict), v
    c, pm = v["classification"], v["processing_metadata"]
    assert c["category"] in CATEGORIES, c
    assert c["priority"] in PRIORITIES, c
    assert c["effort_estimate"] in EFFORTS, c
    assert c["suggested_assignee"] is None or c["suggested_assignee"] in TEAMS, c
    assert 0.0 <= c["confidence"] <= 1.0, c
    assert isinstance(c["reasoning"], str) and isinstance(c["summary"], str)
    assert isinstance(c["tags"], list) and len(c["tags"]) <= 5
    assert all(isinstance(t, str) for t in c["tags"])
    assert c["source"] in ("llm", "offline"), c
    assert isinstance(pm["processed_at"], str) and pm["processed_at"].endswith("Z")
    assert isinstance(pm["processing_time_ms"], int) and pm["processing_time_ms"] >= 0
    assert isinstance(pm["model_version"], str) and pm["model_version"]
    assert isinstance(pm["attempts"], int) and pm["attempts"] >= 0
    assert re.fullmatch(r"[0-9a-f]{16}", msg["headers"].get("x-dispatchai-text-hash", "")), \
        msg["headers"]
    assert msg["headers"].get("schema-version") == "1"
    assert msg["headers"].get("content-type") == "application/json"
    if raw is not None:
        rest = {k: x for k, x in v.items() if k not in ("classification", "processing_metadata")}
        assert rest == raw, "the raw event must pass through unchanged"
    return v


def tmpdir():
    daitest.RUN_DIR.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="cls-", dir=daitest.RUN_DIR))
