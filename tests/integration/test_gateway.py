"""Gateway REST API against a real broker and the real daemon: the view rebuilt
identically after a restart and by a second instance, readiness only once caught
up, every list filter and cursor pagination, detail/stats/repos, access control
(401/403/public reads), malformed requests, and metrics."""
import json
import re
import socket
import time

import pytest

import daitest
from test_gateway_support import (READ, WRITE, enriched, ensure_topic, gateway, get, post,
                                  produce_events)


def population():
    """A varied, deterministic set of events (with updates of the same issues)."""
    repos = ["acme/widgets", "acme/gadgets", "Other/Thing"]
    cats = ["bug", "feature_request", "question", "security", "documentation"]
    prios = ["critical", "high", "medium", "low"]
    teams = ["team-backend", "team-frontend", None]
    evs = []
    for i in range(1, 41):
        evs.append(enriched(repo=repos[i % 3], number=i,
                            kind="pull_request" if i % 4 == 0 else "issue",
                            title=("Crash on start" if i % 5 == 0 else "Slow page") + f" #{i}",
                            state="closed" if i % 3 == 1 else "open",
                            category=cats[i % 5], priority=prios[(i // 2) % 4],
                            assignee=teams[i % 3], processed_ms=1_767_000_000_000 + i * 1000))
    # Later events for a few issues: a re-classification and a state change.
    evs.append(enriched(repo=repos[2 % 3], number=2, category="security", priority="critical",
                        assignee=teams[2], processed_ms=1_767_000_100_000, action="edited",
                        title="Slow page #2"))
    evs.append(enriched(repo=repos[7 % 3], number=7, category=cats[7 % 5], state="closed",
                        priority=prios[3], assignee=teams[7 % 3], action="closed",
                        processed_ms=1_767_000_101_000, title="Slow page #7"))
    return evs


def latest_by_key(evs):
    out = {}
    for ev in evs:
        subj = ev.get("pull_request") or ev["issue"]
        out[(ev["repository"]["full_name"].lower(), subj["number"])] = ev
    return out


def ms_of(ev):
    return ev["processing_metadata"]["processed_at"]


def num(item):
    return (item.get("pull_request") or item["issue"])["number"]


@pytest.fixture
def loaded(broker, topics):
    evs = population()
    ensure_topic(broker, topics["KAFKA_TOPIC_ENRICHED_ISSUES"])
    produce_events(broker.bootstrap, topics["KAFKA_TOPIC_ENRICHED_ISSUES"], evs)
    gw = gateway(broker, topics).start()
    yield gw, evs
    assert gw.stop() == 0


def test_gateway_rebuilds_the_same_view_after_restart_and_in_a_second_instance(broker, topics):
    t = topics["KAFKA_TOPIC_ENRICHED_ISSUES"]
    evs = population()
    evs.append(enriched(repo="acme/widgets", number=3, category="question", source="human",
                        corrected_by="ops", note="not a bug", processed_ms=1_767_000_200_000))
    evs.append(enriched(repo="acme/widgets", number=3, category="bug", state="closed",
                        action="closed", processed_ms=1_767_000_300_000, title="Slow page #3"))
    evs.append(enriched(repo="Other/Thing", number=5, action="deleted",
                        processed_ms=1_767_000_400_000))
    ensure_topic(broker, t)
    produce_events(broker.bootstrap, t, evs)

    def snapshot(gw):
        return (get(gw, "/api/issues?limit=500")[2], get(gw, "/api/stats")[2],
                get(gw, "/api/repos")[2], get(gw, "/api/issues/acme/widgets/3")[2])

    gw = gateway(broker, topics).start()
    # Ready means caught up with the end offsets seen at start: the whole
    # backlog is in the view right away, without waiting.
    first = snapshot(gw)
    assert first[1]["total"] == 39  # 40 issues, one deleted
    assert num(first[0]["items"][0]) == 3  # the newest
    assert first[3]["latest"]["classification"]["source"] == "human"
    assert first[3]["latest"]["issue"]["state"] == "closed"
    assert first[3]["human_override"] is True
    # A second instance at the same time: its own full view, same answers.
    gw2 = gateway(broker, topics).start()
    try:
        assert snapshot(gw2) == first
    finally:
        gw2.stop()
    gw.stop()
    gw3 = gateway(broker, topics).start()
    try:
        assert snapshot(gw3) == first
        # No offsets were committed under any group by the gateways.
        r = daitest.subprocess.run(
            [str(daitest.REPO / "scripts" / "kafka-local"), "tool", "consumer-groups",
             "--bootstrap-server", broker.bootstrap, "--list"],
            capture_output=True, text=True, timeout=120)
        assert "dispatchai-gateway" not in r.stdout
        st, _, m = daitest.request("GET", gw3.url + "/metrics")
        assert re.search(rb"^gateway_caught_up 1", m, re.M)
    finally:
        gw3.stop()


def test_gateway_lists_with_every_filter(loaded):
    gw, evs = loaded
    latest = latest_by_key(evs)

    def expect(pred):
        rows = [ev for ev in latest.values() if pred(ev)]
        rows.sort(key=lambda e: (ms_of(e)), reverse=True)
        return [(ev.get("pull_request") or ev["issue"])["number"] for ev in rows]

    def subj(ev):
        return ev.get("pull_request") or ev["issue"]

    cases = [
        ("", lambda e: True),
        ("repo=ACME/widgets", lambda e: e["repository"]["full_name"] == "acme/widgets"),
        ("repo=acme/widgets,other/thing",
         lambda e: e["repository"]["full_name"].lower() in ("acme/widgets", "other/thing")),
        ("category=security", lambda e: e["classification"]["category"] == "security"),
        ("priority=critical,low", lambda e: e["classification"]["priority"] in ("critical", "low")),
        ("state=closed", lambda e: subj(e)["state"] == "closed"),
        ("type=pull_request", lambda e: "pull_request" in e),
        ("type=issue", lambda e: "issue" in e),
        ("assignee=team-frontend", lambda e: e["classification"]["suggested_assignee"] == "team-frontend"),
        ("assignee=none", lambda e: e["classification"]["suggested_assignee"] is None),
        ("q=CRASH", lambda e: "crash" in subj(e)["title"].lower()),
        ("since=2025-12-29T09:20:30Z", lambda e: ms_of(e) > "2025-12-29T09:20:30.000Z"),
        ("category=bug&state=open&repo=acme/gadgets",
         lambda e: e["classification"]["category"] == "bug" and subj(e)["state"] == "open"
         and e["repository"]["full_name"] == "acme/gadgets"),
        ("repo=nobody/nothing", lambda e: False),
    ]
    for query, pred in cases:
        st, _, body = get(gw, "/api/issues?limit=500" + ("&" + query if query else ""))
        assert st == 200, (query, body)
        got = [num(i) for i in body["items"]]
        assert got == expect(pred), query
        assert body["next_cursor"] is None
    # The default limit is 50 and items are whole enriched events.
    st, _, body = get(gw, "/api/issues")
    assert len(body["items"]) == 40 and body["items"][0]["classification"]["category"]


def test_gateway_paginates_with_stable_cursors(loaded, broker, topics):
    gw, evs = loaded
    expected = [n for n, _ in sorted(((num(e), ms_of(e)) for e in latest_by_key(evs).values()),
                                     key=lambda x: x[1], reverse=True)]
    seen, cursor, pages = [], None, 0
    while True:
        path = "/api/issues?limit=7" + (f"&cursor={cursor}" if cursor else "")
        st, _, body = get(gw, path)
        assert st == 200
        seen += [num(i) for i in body["items"]]
        pages += 1
        if pages == 2:
            # An update lands between pages: the moved issue jumps to the top;
            # the walk neither repeats nor skips anything else.
            produce_events(broker.bootstrap, topics["KAFKA_TOPIC_ENRICHED_ISSUES"],
                           [enriched(repo="acme/widgets", number=39, processed_ms=1_767_009_000_000,
                                     title="Slow page #39", state="open", category="question",
                                     priority="low", assignee=None)])
            daitest.wait_for(lambda: num(get(gw, "/api/issues?limit=1")[2]["items"][0]) == 39,
                             what="update applied")
        cursor = body["next_cursor"]
        if cursor is None:
            assert len(body["items"]) <= 7
            break
        assert len(body["items"]) == 7
    assert len(seen) == len(set(seen))
    assert [n for n in seen] == [n for n in expected if n in seen]
    assert set(expected) - set(seen) <= {39}
    st, _, body = get(gw, "/api/issues?cursor=bm90LWEtY3Vyc29y")
    assert st == 400 and body["error"]["code"] == "bad_request"


def test_gateway_detail_stats_and_repos(loaded):
    gw, evs = loaded
    st, _, d = get(gw, "/api/issues/other/THING/2")  # case-insensitive names
    assert st == 200
    assert d["key"] == "Other/Thing:issue:2"
    assert d["latest"]["classification"]["category"] == "security"
    assert [h["category"] for h in d["history"]] == ["question", "security"]
    assert d["human_override"] is False
    st, _, d = get(gw, "/api/issues/acme/gadgets/4")  # a pull request, path is type-less
    assert st == 200 and d["key"] == "acme/gadgets:pull_request:4"
    st, _, e = get(gw, "/api/issues/acme/gadgets/999")
    assert st == 404 and e["error"]["code"] == "not_found"
    st, _, s = get(gw, "/api/stats")
    assert s["total"] == 40
    assert sum(s["by_category"].values()) == 40
    assert s["by_repository"] == {"acme/widgets": 13, "acme/gadgets": 14, "Other/Thing": 13}
    assert s["by_source"]["llm"] == 40
    assert s["by_type"]["pull_request"] == 10
    st, _, s = get(gw, "/api/stats?repo=acme/gadgets")
    assert s["total"] == 14 and list(s["by_repository"]) == ["acme/gadgets"]
    st, _, r = get(gw, "/api/repos")
    assert [x["name"] for x in r["items"]] == ["acme/gadgets", "acme/widgets", "Other/Thing"]
    assert r["items"][0]["total"] == 14


def test_gateway_access_control(broker, topics):
    ensure_topic(broker, topics["KAFKA_TOPIC_ENRICHED_ISSUES"])
    produce_events(broker.bootstrap, topics["KAFKA_TOPIC_ENRICHED_ISSUES"], [enriched(number=1)])
    gw = gateway(broker, topics).start()
    try:
        st, h, b = get(gw, "/api/issues", headers={})
        assert st == 401 and b["error"]["code"] == "unauthorized"
        assert h["www-authenticate"].startswith("Bearer")
        st, _, b = get(gw, "/api/issues", headers={"Authorization": "Bearer wrong-token"})
        assert st == 401
        st, _, b = get(gw, "/api/issues", headers={"Authorization": "Basic b3BzOnMzY3JldA=="})
        assert st == 401
        assert get(gw, "/api/issues")[0] == 200
        assert get(gw, "/api/stats", headers=WRITE)[0] == 200
        st, _, b = get(gw, "/api/issues", headers={"Authorization": "Bearer wonly-token-0789012"})
        assert st == 403 and b["error"]["code"] == "forbidden"
        st, _, b = post(gw, "/api/issues/acme/widgets/1/correction", {"category": "question"},
                        headers=READ)
        assert st == 403
        st, _, b = post(gw, "/api/issues/acme/widgets/1/correction", {"category": "question"},
                        headers={})
        assert st == 401
        # Health, readiness and metrics stay open for probes.
        assert daitest.request("GET", gw.url + "/health")[0] == 200
        assert daitest.request("GET", gw.url + "/ready")[0] == 200
        # Tokens never reach the log.
        assert "read-token-0123456" not in gw.logs() and "write-token-0456789" not in gw.logs()
    finally:
        assert gw.stop() == 0
    pub = gateway(broker, topics, env={"GATEWAY_PUBLIC_READ": "true"}).start()
    try:
        assert get(pub, "/api/issues", headers={})[0] == 200
        assert get(pub, "/api/issues/acme/widgets/1", headers={})[0] == 200
        assert get(pub, "/api/issues", headers={"Authorization": "Bearer wrong-token"})[0] == 401
        assert post(pub, "/api/issues/acme/widgets/1/correction", {"category": "question"},
                    headers={})[0] == 401
    finally:
        pub.stop()


def test_gateway_refuses_malformed_requests(broker, topics):
    ensure_topic(broker, topics["KAFKA_TOPIC_ENRICHED_ISSUES"])
    produce_events(broker.bootstrap, topics["KAFKA_TOPIC_ENRICHED_ISSUES"], [enriched(number=1)])
    gw = gateway(broker, topics, env={"GATEWAY_CORRECTIONS_PER_MINUTE": "6",
                                      "GATEWAY_CORS_ORIGINS": "https://dash.example"}).start()
    try:
        def err(st_body, status, code=None):
            st, _, b = st_body
            assert st == status, b
            assert set(b["error"]) == {"code", "message"} and b["error"]["message"]
            if code:
                assert b["error"]["code"] == code

        err(get(gw, "/api/nothing"), 404, "not_found")
        err(get(gw, "/api/issues/acme/widgets/1/extra/path"), 404)
        err(get(gw, "/api/issues/acme/widgets/abc"), 400, "bad_request")
        err(get(gw, "/api/issues/acme/widgets/0"), 400)
        err(get(gw, "/api/issues/ac%20me/widgets/1"), 404)
        err(get(gw, "/api/issues?limit=0"), 400)
        err(get(gw, "/api/issues?limit=501"), 400)
        err(get(gw, "/api/issues?category=bogus"), 400)
        err(get(gw, "/api/issues?state=merged"), 400)
        err(get(gw, "/api/issues?since=yesterday"), 400)
        err(get(gw, "/api/issues?page=2"), 400)
        err(get(gw, "/api/issues?repo="), 400)
        err(get(gw, "/api/stats?category=bug"), 400)
        err(get(gw, "/api/repos?x=1"), 400)
        st, h, b = daitest.request("DELETE", gw.url + "/api/issues", headers=READ)
        assert st == 405 and "GET" in h["allow"]
        st, h, b = daitest.request("GET", gw.url + "/api/issues/acme/widgets/1/correction",
                                   headers=WRITE)
        assert st == 405 and h["allow"].startswith("POST")
        path = "/api/issues/acme/widgets/1/correction"
        err(post(gw, path, "{not json"), 400, "invalid_correction")
        err(post(gw, path, {"category": "bogus"}), 400, "invalid_correction")
        err(post(gw, path, {"colour": "red"}), 400)
        err(post(gw, path, {}), 400)
        err(post(gw, "/api/issues/acme/widgets/77/correction", {"category": "bug"}), 404)
        st, _, b = daitest.request("POST", gw.url + path, body="x" * 20000,
                                   headers={**WRITE, "Content-Type": "application/json"})
        assert st == 413 and json.loads(b)["error"]["code"] == "payload_too_large"
        st, _, b = daitest.request("POST", gw.url + path, body="category=bug",
                                   headers={**WRITE, "Content-Type": "text/plain"})
        assert st == 415
        st, _, b = daitest.request("GET", gw.url + "/api/issues", body="x" * 5000, headers=READ)
        assert st == 413
        # Rate limit: 6 corrections per minute per token, counted per token
        # name (the writer spent 5 above; the write-only token has its own).
        wonly = {"Authorization": "Bearer wonly-token-0789012"}
        statuses = [post(gw, path, {"priority": "low"}, headers=wonly)[0] for _ in range(7)]
        assert statuses[:6] == [202] * 6 and statuses[6] == 429, statuses
        st, h, b = post(gw, path, {"priority": "low"}, headers=wonly)
        assert st == 429 and int(h["retry-after"]) >= 1 and b["error"]["code"] == "rate_limited"
        assert post(gw, path, {"priority": "low"})[0] == 202  # the writer still has one
        # CORS: allowed origin gets the headers and a preflight; others do not.
        st, h, _ = daitest.request("GET", gw.url + "/api/stats",
                                   headers={**READ, "Origin": "https://dash.example"})
        assert st == 200 and h["access-control-allow-origin"] == "https://dash.example"
        st, h, _ = daitest.request("GET", gw.url + "/api/stats",
                                   headers={**READ, "Origin": "https://evil.example"})
        assert st == 200 and "access-control-allow-origin" not in h
        st, h, _ = daitest.request("OPTIONS", gw.url + "/api/issues/acme/widgets/1/correction",
                                   headers={"Origin": "https://dash.example",
                                            "Access-Control-Request-Method": "POST"})
        assert st == 204 and "POST" in h["access-control-allow-methods"]
        assert "Authorization" in h["access-control-allow-headers"]
        st, _, _ = daitest.request("OPTIONS", gw.url + "/api/issues",
                                   headers={"Origin": "https://evil.example"})
        assert st == 403
        # The daemon survived all of it.
        assert get(gw, "/api/issues")[0] == 200
    finally:
        assert gw.stop() == 0


def test_gateway_cuts_off_a_trickled_body_with_408(broker, topics):
    """A client sending a correction body a byte at a time is never idle, so only
    http.request_timeout stops it from holding a connection for ever."""
    ensure_topic(broker, topics["KAFKA_TOPIC_ENRICHED_ISSUES"])
    gw = gateway(broker, topics, env={"HTTP_REQUEST_TIMEOUT": "1s"}).start()
    try:
        body = json.dumps({"category": "bug"}).encode()
        s = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
        s.sendall((f"POST /api/issues/acme/widgets/1/correction HTTP/1.1\r\nHost: x\r\n"
                   f"Authorization: {WRITE['Authorization']}\r\n"
                   f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
                  .encode())
        t0, got = time.monotonic(), b""
        s.settimeout(0.2)
        for i in range(len(body) - 1):  # never the last byte
            try:
                s.sendall(body[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                break
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                continue
            if not chunk:
                break
            got += chunk
        s.settimeout(3)
        while True:
            try:
                chunk = s.recv(4096)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            got += chunk
        elapsed = time.monotonic() - t0
        s.close()
        assert got.startswith(b"HTTP/1.1 408"), got[:200]
        assert json.loads(got.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "request_timeout"
        assert 0.8 < elapsed < 3.0, elapsed
        # The request is counted when the server finishes it, a moment after the raw answer.
        daitest.wait_for(lambda: re.search(
            r'dai_http_requests_total\{[^}]*status="408"[^}]*\} 1',
            daitest.request("GET", gw.url + "/metrics")[2].decode()), timeout=10,
            what="the 408 counted in dai_http_requests_total")
        assert get(gw, "/api/issues")[0] == 200
    finally:
        assert gw.stop() == 0


def test_gateway_not_ready_until_it_reaches_the_broker(topics):
    port = daitest.free_port()

    class Nowhere:
        bootstrap = f"127.0.0.1:{daitest.free_port()}"

    gw = gateway(Nowhere, topics, port=port)
    gw.start(wait_ready=False)
    try:
        def answered():
            try:
                return daitest.request("GET", gw.url + "/ready", timeout=2)
            except OSError:
                return None
        st, _, body = daitest.wait_for(answered, timeout=20, what="gateway answering")
        assert st == 503 and json.loads(body)["status"] == "not_ready"
        st, _, b = get(gw, "/api/issues")
        assert st == 503 and b["error"]["code"] == "not_ready"
        assert daitest.request("GET", gw.url + "/health")[0] == 200
    finally:
        assert gw.stop() == 0


def test_gateway_skips_bad_events_and_reports_metrics(broker, topics):
    t = topics["KAFKA_TOPIC_ENRICHED_ISSUES"]
    bad = enriched(number=2)
    del bad["classification"]
    ensure_topic(broker, t)
    produce_events(broker.bootstrap, t, [enriched(number=1), ("k", "not json at all"),
                                        ("acme/widgets:issue:2", bad), enriched(number=3)])
    gw = gateway(broker, topics).start()
    try:
        assert get(gw, "/api/stats")[2]["total"] == 2
        get(gw, "/api/issues")
        _, _, m = daitest.request("GET", gw.url + "/metrics")
        text = m.decode()
        assert re.search(r'^gateway_events_rejected_total\{reason="parse"\} 1', text, re.M)
        assert re.search(r'^gateway_events_rejected_total\{reason="schema"\} 1', text, re.M)
        assert re.search(r"^gateway_events_applied_total 2", text, re.M)
        assert re.search(r'dai_http_requests_total\{route="issues",status="200"\} [1-9]', text)
        assert "gateway_ws_clients" in text and "gateway_consumer_lag" in text
        daitest.wait_for(lambda: re.search(rb"^gateway_tracked_issues 2",
                                           daitest.request("GET", gw.url + "/metrics")[2], re.M),
                         what="tracked issues gauge")
        assert "partition=" in gw.logs() and "not json" not in gw.logs()
    finally:
        gw.stop()


def test_gateway_tokens_from_the_config_file(broker, topics, tmp_path):
    ensure_topic(broker, topics["KAFKA_TOPIC_ENRICHED_ISSUES"])
    conf = tmp_path / "gateway.conf"
    conf.write_text('gateway = { tokens = (\n'
                    '  { name = "dash"; token = "file-read-token-01"; scopes = [ "read" ]; },\n'
                    '  { name = "ops"; token = "file-write-token"; scopes = [ "read", "write" ]; }\n'
                    '); };\n')
    gw = gateway(broker, topics, env={"GATEWAY_API_TOKENS": "", "DISPATCHAI_CONFIG": str(conf)})
    gw.start()
    try:
        assert get(gw, "/api/stats", headers={"Authorization": "Bearer file-read-token-01"})[0] == 200
        assert get(gw, "/api/stats")[0] == 401  # the env tokens are not configured here
        st, _, _ = post(gw, "/api/issues/acme/widgets/1/correction", {"category": "bug"},
                        headers={"Authorization": "Bearer file-read-token-01"})
        assert st == 403
    finally:
        assert gw.stop() == 0
    # A bad entry stops the start with the file and line, never the token.
    conf.write_text('gateway = { tokens = (\n'
                    '  { name = "dash"; token = "file-read-token-01"; scopes = [ "admin" ]; }\n'
                    '); };\n')
    bad = gateway(broker, topics, env={"GATEWAY_API_TOKENS": "", "DISPATCHAI_CONFIG": str(conf)})
    bad.start(wait_ready=False)
    assert bad.proc.wait(timeout=30) == 2
    assert "gateway.conf:2" in bad.logs() and "admin" in bad.logs()
    assert "file-read-token-01" not in bad.logs()
    bad.stop()


def test_gateway_refuses_tokens_under_16_characters_at_start(broker, topics):
    bad = gateway(broker, topics, env={"GATEWAY_API_TOKENS": "dash:fifteen-chars-x:read"})
    bad.start(wait_ready=False)
    try:
        code = bad.proc.wait(timeout=30)
    finally:
        bad.stop()
    logs = bad.logs()
    assert code == 2, logs[-500:]
    assert "16" in logs and "dash" in logs, logs[-500:]
    assert "fifteen-chars-x" not in logs


def request_from(source, url, headers):
    """One GET from a chosen loopback source address: (status, headers)."""
    import http.client
    import urllib.parse
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10, source_address=(source, 0))
    try:
        c.request("GET", u.path or "/", headers=headers)
        r = c.getresponse()
        r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}
    finally:
        c.close()


def test_gateway_throttles_failed_authentications_per_address(broker, topics):
    ensure_topic(broker, topics["KAFKA_TOPIC_ENRICHED_ISSUES"])
    g = gateway(broker, topics, env={"GATEWAY_AUTH_FAILURES_PER_MINUTE": "5"}).start()
    try:
        wrong = {"Authorization": "Bearer not-a-real-token-0000"}
        for _ in range(5):
            assert request_from("127.0.0.1", g.url + "/api/stats", wrong)[0] == 401
        st, h = request_from("127.0.0.1", g.url + "/api/stats", wrong)
        assert st == 429 and 1 <= int(h["retry-after"]) <= 12, (st, h)
        # Even the right token waits: guessing cannot go on behind the 429s.
        assert request_from("127.0.0.1", g.url + "/api/stats", READ)[0] == 429
        # The WebSocket handshake is throttled the same way.
        r = daitest.request("GET", g.url + "/ws?token=not-a-real-token-0000")
        assert r[0] == 429
        # Another client address is not affected.
        assert request_from("127.0.0.2", g.url + "/api/stats", READ)[0] == 200
        assert request_from("127.0.0.2", g.url + "/api/stats", wrong)[0] == 401
    finally:
        assert g.stop() == 0
