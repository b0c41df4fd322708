"""The dashboard (gateway/web/) in a real browser against a real gateway.

The session's Kafka broker (unique topics), a real dispatchai-gateway process
(public reads, a write token and a read-only token), real enriched events
produced with kcat, and headless Chromium (Debian's /usr/bin/chromium) driven
by playwright-core from tests/browser/dashboard.js. This file owns the world —
broker, gateway, events — and answers the browser script's requests over stdio
({"need": ...} lines); the script owns the pages.

Checked: an issue appears live, newest first, with every column; the counts
chart follows; filters (category, text, state) drive the list, the
subscription and the URL, and a reload restores them; the detail panel shows
the classification history and the reasoning; a correction submitted in one
page (write token typed once, kept in localStorage) shows up in a second page
and on the topic; a read-only token is refused with a clear message; keyboard
navigation; the connection state while the gateway is down and the resync
when it is back; a dropped WebSocket resuming with ?since= from the gateway's log;
a narrow screen. Screenshots land in .run/dashboard/;
DAI_UPDATE_DOCS_SCREENSHOT=1 also refreshes docs/dashboard.png.
"""
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

import daitest
from test_gateway_support import enriched, gateway, key_of, produce_events

REPO = daitest.REPO
BROWSER_DIR = REPO / "tests" / "browser"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
OUT_DIR = REPO / ".run" / "dashboard"
NOW_MS = int(time.time() * 1000)


def install_playwright_core():
    """playwright-core is not committed: install it from package-lock.json
    into tests/browser/node_modules when a fresh clone lacks it, or when the
    installed version is not the locked one. Returns an error message, empty
    on success."""
    locked = json.loads((BROWSER_DIR / "package-lock.json").read_text())
    want = locked["packages"]["node_modules/playwright-core"]["version"]
    installed = BROWSER_DIR / "node_modules" / "playwright-core" / "package.json"
    if installed.is_file() and json.loads(installed.read_text()).get("version") == want:
        return ""
    if not shutil.which("npm"):
        return "tests/browser/node_modules (needs npm: npm ci --prefix tests/browser)"
    run = subprocess.run(["npm", "ci", "--prefix", str(BROWSER_DIR), "--no-audit", "--no-fund",
                          "--loglevel=error"], capture_output=True, text=True, timeout=300)
    if run.returncode != 0:
        return f"tests/browser/node_modules (npm ci failed: {run.stderr.strip()[-2000:]})"
    return ""


def browser_prereqs():
    """What is missing to run the browser, as a message (empty when ready)."""
    missing = []
    if not shutil.which("node"):
        missing.append("node (Debian package nodejs)")
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"{CHROMIUM} (Debian package chromium)")
    npm_error = install_playwright_core()
    if npm_error:
        missing.append(npm_error)
    return "; ".join(missing)


def ago(minutes):
    return NOW_MS - int(minutes * 60_000)


def dkey(ev):
    """The dashboard's row key: the event key, lower case."""
    return key_of(ev).lower()


def row_facts(ev):
    c = ev["classification"]
    subj = ev.get("pull_request") or ev["issue"]
    return {"key": dkey(ev), "repo": ev["repository"]["full_name"], "number": subj["number"],
            "title": subj["title"], "html_url": subj["html_url"],
            "category_label": c["category"].replace("_", " "), "priority": c["priority"],
            "effort_label": c["effort_estimate"].replace("_", " "),
            "team": c["suggested_assignee"] or "—",
            "confidence_label": f"{round(c['confidence'] * 100)}%", "source": c["source"]}


class World:
    """The broker side of the browser test: the gateway and the events."""

    def __init__(self, broker, topics, tokens):
        self.broker = broker
        self.topics = topics
        self.topic = topics["KAFKA_TOPIC_ENRICHED_ISSUES"]
        self.port = daitest.free_port()
        self.env = {"GATEWAY_PUBLIC_READ": "true", "GATEWAY_API_TOKENS": tokens,
                    "GATEWAY_WS_PING_INTERVAL": "2s", "GATEWAY_WS_IDLE_TIMEOUT": "10s"}
        self.gw = None

    def start(self):
        self.gw = gateway(self.broker, self.topics, port=self.port, env=self.env).start()

    def stop(self):
        if self.gw:
            rc = self.gw.stop()
            assert rc == 0, f"gateway exited {rc}:\n" + self.gw.logs()[-3000:]
            self.gw = None

    def produce(self, *events):
        produce_events(self.broker.bootstrap, self.topic, list(events))

    def resumes(self):
        """gateway_ws_resumes_total by result, from /metrics."""
        st, _, body = daitest.request("GET", self.gw.url + "/metrics")
        assert st == 200
        out = {}
        for line in body.decode().splitlines():
            m = re.match(r'gateway_ws_resumes_total\{result="(\w+)"\} (\d+)', line)
            if m:
                out[m.group(1)] = int(m.group(2))
        return out

    def wait_applied(self, ev):
        """Until the gateway serves this event's classification."""
        subj = ev.get("pull_request") or ev["issue"]
        path = f"/api/issues/{ev['repository']['full_name']}/{subj['number']}"
        want = ev["processing_metadata"]["processed_at"]

        def applied():
            st, body = daitest.get_json(self.gw.url + path)
            return st == 200 and body["latest"]["processing_metadata"]["processed_at"] == want
        daitest.wait_for(applied, timeout=20, what=f"{key_of(ev)} applied")


def run_browser(cfg, answer, world):
    """Run tests/browser/dashboard.js with cfg, answering its requests with
    answer(msg); returns the steps it completed, or fails with its error."""
    env = dict(os.environ, DASH_CONFIG=json.dumps(cfg), CHROMIUM=CHROMIUM)
    proc = subprocess.Popen(["node", str(BROWSER_DIR / "dashboard.js")], cwd=BROWSER_DIR, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    steps, result, error = [], None, None
    try:
        deadline = time.monotonic() + 300
        for line in proc.stdout:
            assert time.monotonic() < deadline, "browser script took longer than 300 s"
            line = line.strip()
            if not line.startswith("{"):
                continue
            msg = json.loads(line)
            if "need" in msg:
                proc.stdin.write(json.dumps(answer(msg)) + "\n")
                proc.stdin.flush()
            elif "step" in msg:
                steps.append(msg["step"])
            elif "error" in msg:
                error = msg
            elif msg.get("done"):
                result = msg
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        world.stop()
    stderr = proc.stderr.read()
    assert error is None, (f"browser: {error['error']}\npage errors: {error.get('page_errors')}\n"
                           f"steps done: {steps}\nstderr: {stderr[-2000:]}\n"
                           f"screenshot: {OUT_DIR / 'failure.png'}")
    assert proc.returncode == 0 and result, f"steps: {steps}\nstderr: {stderr[-3000:]}"
    return steps


def fresh_out_dir():
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for old in OUT_DIR.glob("*.png"):
        old.unlink()


def test_dashboard_in_chromium(broker, topics):
    missing = browser_prereqs()
    if missing:
        pytest.fail("the browser test needs: " + missing)
    write_tok = "w-" + uuid.uuid4().hex
    read_tok = "r-" + uuid.uuid4().hex
    world = World(broker, topics, f"triager:{write_tok}:read+write,viewer:{read_tok}:read")
    broker.create_topics(world.topic)

    # Six items, one of them classified twice (history), one pull request.
    w = "acme/widgets"
    g = "acme/gadgets"
    r1 = "Asked how to tune retries; no defect described, so a question of low urgency."
    r2 = ("Follow-up comment shows retries exhaust the broker connection pool under load; "
          "still a question, but medium priority.")
    initial = [
        enriched(w, 11, title="Crash when saving a file", category="bug", priority="high",
                 effort="medium", assignee="backend", processed_ms=ago(50)),
        enriched(w, 12, title="Docs: install guide skips the broker step",
                 category="documentation", priority="low", assignee="docs",
                 processed_ms=ago(40)),
        enriched(g, 21, title="Add a dark mode", category="feature_request", priority="medium",
                 effort="large", assignee="frontend", source="offline", processed_ms=ago(30)),
        enriched(g, 22, title="Typo in the README", category="documentation", priority="medium",
                 assignee=None, processed_ms=ago(20)),
        enriched(g, 23, kind="pull_request", title="Speed up start-up by caching the config",
                 category="enhancement", priority="low", assignee="backend",
                 processed_ms=ago(15)),
        enriched(w, 13, title="How do I configure retries?", category="question", priority="low",
                 effort="small", assignee="support", confidence=0.6, reasoning=r1,
                 processed_ms=ago(12)),
    ]
    second = enriched(w, 13, title="How do I configure retries?", category="question",
                      priority="medium", effort="small", assignee="support", confidence=0.8,
                      reasoning=r2, processed_ms=ago(10), action="edited")
    world.produce(*initial, second)
    shown = [second] + initial[:5][::-1]  # newest first: #13 (latest), PR 23, 22, 21, 12, 11
    world.start()

    fresh_out_dir()
    cfg = {
        "scenario": "full",
        "url": world.gw.url + "/",
        "token": write_tok,
        "token_name": "triager",
        "read_token": read_tok,
        "out_dir": str(OUT_DIR),
        "initial": [row_facts(e) for e in shown],
        "initial_by_category": {"bug": 1, "documentation": 2, "feature_request": 1,
                                "enhancement": 1, "question": 1, "security": 0},
        "doc_keys": [dkey(initial[3]), dkey(initial[1])],
        "q": "install",
        "doc_q_keys": [dkey(initial[1])],
        "other_doc_key": dkey(initial[3]),
        "history": {"key": dkey(second), "ref": "acme/widgets#13",
                    "reasoning_first": r1, "reasoning_latest": r2},
    }

    def answer(need):
        what = need["need"]
        if what == "live_event":
            ev = enriched(w, 14, title="Live: parser crashes on empty input", category="bug",
                          priority="critical", assignee="backend", processed_ms=int(time.time() * 1000))
            world.produce(ev)
            return {"key": dkey(ev), "title": ev["issue"]["title"]}
        if what == "filtered_events":
            nomatch = enriched(w, 15, title="install script fails on arm64", category="bug",
                               priority="high", processed_ms=int(time.time() * 1000))
            match = enriched(g, 24, title="Document the install of the gateway",
                             category="documentation", priority="low",
                             processed_ms=int(time.time() * 1000) + 1)
            world.produce(nomatch, match)
            world.wait_applied(nomatch)
            world.wait_applied(match)
            return {"match_key": dkey(match), "nomatch_key": dkey(nomatch)}
        if what == "resume_event":
            world.resumes0 = world.resumes()
            ev = enriched(g, 26, title="Classified while a page was away", category="question",
                          priority="low", processed_ms=int(time.time() * 1000))
            world.produce(ev)
            world.wait_applied(ev)
            return {"key": dkey(ev)}
        if what == "resume_done":
            now = world.resumes()
            return {k: now.get(k, 0) - world.resumes0.get(k, 0) for k in ("replayed", "resync")}
        if what == "stop_gateway":
            world.stop()
            return {}
        if what == "start_gateway":
            ev = enriched(g, 25, title="Produced while the gateway was down",
                          category="enhancement", priority="medium",
                          processed_ms=int(time.time() * 1000))
            world.produce(ev)
            world.start()
            return {"key": dkey(ev)}
        raise AssertionError(f"unknown request from the browser script: {need}")

    steps = run_browser(cfg, answer, world)
    assert steps == ["initial", "live", "filters", "detail", "correction", "forbidden",
                     "keyboard", "resume", "reconnect", "narrow"]
    for shot in ("dashboard.png", "dashboard-live.png", "dashboard-detail.png",
                 "dashboard-corrected.png", "dashboard-reconnecting.png", "dashboard-narrow.png"):
        assert (OUT_DIR / shot).stat().st_size > 10_000, shot

    # The correction went through the topic as a human classification by the
    # token's name, which is how every other dashboard and gateway saw it.
    msgs = daitest.consume(broker.bootstrap, world.topic)
    human = [m["value"] for m in msgs if isinstance(m["value"], dict)
             and m["value"]["classification"]["source"] == "human"]
    assert len(human) == 1, human
    c = human[0]["classification"]
    assert (c["category"], c["priority"], c["suggested_assignee"], c["corrected_by"], c["note"]) == \
        ("security", "critical", "security-team", "triager", "confirmed by triage")
    assert human[0]["issue"]["number"] == 13

    if os.environ.get("DAI_UPDATE_DOCS_SCREENSHOT") == "1":
        shutil.copyfile(OUT_DIR / "dashboard.png", REPO / "docs" / "dashboard.png")


def test_dashboard_asks_for_a_read_token(broker, topics):
    """A gateway without public reads: the page asks for a token, then works."""
    missing = browser_prereqs()
    if missing:
        pytest.fail("the browser test needs: " + missing)
    read_tok = "r-" + uuid.uuid4().hex
    world = World(broker, topics, f"viewer:{read_tok}:read")
    world.env["GATEWAY_PUBLIC_READ"] = "false"
    broker.create_topics(world.topic)
    first = enriched("acme/private", 1, title="Only for token holders", processed_ms=ago(5))
    world.produce(first)
    world.start()
    st, _, _ = daitest.request("GET", world.gw.url + "/api/issues")
    assert st == 401  # the premise: reads really are private
    st, _, _ = daitest.request("GET", world.gw.url + "/")
    assert st == 200  # the page itself is public

    def answer(need):
        if need["need"] == "live_event":
            ev = enriched("acme/private", 2, title="Live behind a token",
                          processed_ms=int(time.time() * 1000))
            world.produce(ev)
            return {"key": dkey(ev)}
        raise AssertionError(f"unknown request from the browser script: {need}")

    out = OUT_DIR / "private"
    cfg = {"scenario": "private", "url": world.gw.url + "/", "token": read_tok,
           "out_dir": str(out), "key": dkey(first)}
    steps = run_browser(cfg, answer, world)
    assert steps == ["token", "live", "reload"]
