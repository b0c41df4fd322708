"""Helpers for the gateway's integration tests and scripts/bench-gateway (no tests here).

Builds enriched events exactly as common/include/dispatchai/events.h defines them
(raw event schema_version 1 + classification + processing_metadata), produces them
with kcat, starts gateways, and speaks to /ws with the independent `websockets`
client (Python's, not ours).
"""
import asyncio
import datetime
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

import daitest  # noqa: E402

TOKENS = "reader:read-token-0123456:read,writer:write-token-0456789:read+write,wonly:wonly-token-0789012:write"
READ = {"Authorization": "Bearer read-token-0123456"}
WRITE = {"Authorization": "Bearer write-token-0456789"}


def iso(ms):
    """RFC 3339 UTC with milliseconds for Unix ms."""
    dt = datetime.datetime.fromtimestamp(ms / 1000.0, tz=datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ms) % 1000:03d}Z"


_BASE_MS = 1_767_000_000_000  # 2025-12-29, a fixed origin so tests are reproducible


def enriched(repo="acme/widgets", number=1, kind="issue", title=None, body="It breaks.",
             state="open", category="bug", priority="high", effort="small",
             assignee="team-backend", source="llm", processed_ms=None, action="opened",
             event_type=None, confidence=0.8, reasoning="Looks like a crash.",
             corrected_by=None, note=None, labels=(), comment=None):
    """One enriched event (dict). kind: issue | pull_request."""
    owner, name = repo.split("/", 1)
    processed_ms = _BASE_MS + number * 1000 if processed_ms is None else processed_ms
    subject = {
        "id": 10_000_000 + number,
        "number": number,
        "title": title if title is not None else f"Issue {number} in {repo}",
        "body": body,
        "state": state,
        "labels": [{"name": l, "color": "ededed"} for l in labels],
        "user": {"login": "octocat", "id": 1},
        "assignees": [],
        "html_url": f"https://github.com/{repo}/{'pull' if kind == 'pull_request' else 'issues'}/{number}",
        "created_at": iso(processed_ms - 60_000),
        "updated_at": iso(processed_ms - 1000),
    }
    ev = {
        "schema_version": 1,
        "event_type": event_type or ("pull_request" if kind == "pull_request" else "issue"),
        "action": action,
        "timestamp": iso(processed_ms - 500),
        "delivery_id": str(uuid.uuid4()),
        "repository": {"id": abs(hash(repo)) % 10**9, "name": name, "full_name": repo,
                       "private": False, "owner": {"login": owner, "id": 2},
                       "html_url": f"https://github.com/{repo}"},
        "sender": {"login": "octocat", "id": 1, "type": "User"},
    }
    if kind == "pull_request":
        subject.update({"draft": False, "merged": False, "head_ref": "feature", "base_ref": "main"})
        ev["pull_request"] = subject
    else:
        subject["is_pull_request"] = False
        ev["issue"] = subject
    if comment is not None:
        ev["event_type"] = "issue_comment"
        ev["comment"] = {"id": 5, "body": comment, "user": {"login": "octocat", "id": 1},
                         "html_url": subject["html_url"] + "#c5",
                         "created_at": iso(processed_ms - 100), "updated_at": iso(processed_ms - 100)}
    cls = {"category": category, "priority": priority, "effort_estimate": effort,
           "suggested_assignee": assignee, "confidence": confidence, "reasoning": reasoning,
           "tags": [], "summary": "", "source": source}
    if source == "human":
        cls["corrected_by"] = corrected_by or "someone"
        cls["note"] = note
    ev["classification"] = cls
    ev["processing_metadata"] = {"processed_at": iso(processed_ms), "processing_time_ms": 12,
                                 "model_version": "human" if source == "human" else "offline-v1",
                                 "attempts": 1}
    return ev


def key_of(ev):
    kind = "pull_request" if "pull_request" in ev else "issue"
    subj = ev.get("pull_request") or ev["issue"]
    return f"{ev['repository']['full_name']}:{kind}:{subj['number']}"


_created = set()


def ensure_topic(broker, topic):
    """Create a test topic once (the broker does not auto-create topics)."""
    if (broker.bootstrap, topic) not in _created:
        broker.create_topics(topic)
        _created.add((broker.bootstrap, topic))


def produce_events(bootstrap, topic, events):
    """Produce many events in one kcat process (key TAB value per line), in order."""
    lines = []
    for ev in events:
        if isinstance(ev, tuple):
            key, value = ev
        else:
            key, value = key_of(ev), ev
        if not isinstance(value, (bytes, str)):
            value = json.dumps(value, separators=(",", ":"))
        if isinstance(value, bytes):
            value = value.decode()
        assert "\n" not in value and "\t" not in key
        lines.append(f"{key}\t{value}")
    data = ("\n".join(lines) + "\n").encode()
    subprocess.run(["kcat", "-P", "-b", bootstrap, "-t", topic, "-K", "\t", "-X", "acks=all",
                    "-X", "linger.ms=5"], input=data, check=True, timeout=120)


def gateway(broker, topics, port=None, env=None, args=()):
    """A gateway Daemon (not started) on the broker with test tokens and fast WS timers."""
    port = port or daitest.free_port()
    e = {"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "GATEWAY_PORT": port,
         "GATEWAY_API_TOKENS": TOKENS, "LOG_LEVEL": "info",
         "DISPATCHAI_CONFIG": "/dev/null", "HTTP_BIND": "127.0.0.1"}
    e.update(topics)
    e.update(env or {})
    return daitest.Daemon("gateway", port, env=e, args=args)


def get(gw, path, headers=READ):
    st, h, data = daitest.request("GET", gw.url + path, headers=headers)
    return st, h, (json.loads(data) if data else None)


def post(gw, path, body, headers=WRITE):
    hdr = {"Content-Type": "application/json", **(headers or {})}
    st, h, data = daitest.request("POST", gw.url + path, body=body, headers=hdr)
    return st, h, (json.loads(data) if data else None)


def ws_url(gw, query=""):
    return f"ws://127.0.0.1:{gw.port}/ws" + (("?" + query) if query else "")


def run(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def recv_json(ws, timeout=15):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def recv_until(ws, pred, timeout=20):
    """Receive messages until pred(msg) is true; returns (msg, everything received)."""
    seen = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        left = deadline - loop.time()
        if left <= 0:
            raise AssertionError(f"no matching message within {timeout}s; got {seen[-5:]}")
        msg = await recv_json(ws, left)
        seen.append(msg)
        if pred(msg):
            return msg, seen


def env_flag(name, default):
    return os.environ.get(name, default)
