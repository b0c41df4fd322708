"""Integration tests for dispatchai-ingress: the real daemon process against the
session's real Kafka broker (unique topics per test).

Covers: a signed delivery lands exactly once with the right key, headers and value;
forged ones never land; redeliveries (sequential and concurrent) are duplicates; the
exact statuses (400/401/404/405/408/413/415/429, ping, ignored events, form bodies);
metrics; readiness; the secret requirement and the insecure flag.
"""
import concurrent.futures
import json
import socket
import subprocess
import time
import urllib.parse
import uuid

import pytest

import daitest
from daitest import Daemon, consume, free_port, load_fixture, request, webhook_headers, wait_for

SECRET = "integration-secret-1"
PATH = "/webhook/github"


def start_ingress(broker, topics, args=(), wait_ready=True, **env):
    port = free_port()
    e = {"GITHUB_WEBHOOK_SECRET": SECRET, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
         "INGRESS_PORT": port, "HTTP_BIND": "127.0.0.1", "LOG_LEVEL": "info"}
    e.update(topics)
    e.update({k: str(v) for k, v in env.items()})
    return Daemon("ingress", port, env=e, args=args).start(wait_ready=wait_ready)


@pytest.fixture
def ingress(broker, topics):
    d = start_ingress(broker, topics)
    yield d
    assert d.stop() == 0, d.logs()[-3000:]


def post(d, event, body, secret=SECRET, delivery=None, content_type="application/json",
         headers=None, timeout=15):
    h = webhook_headers(event, body, secret, delivery=delivery, content_type=content_type)
    h.update(headers or {})
    st, hdrs, data = request("POST", d.url + PATH, body, h, timeout=timeout)
    return st, hdrs, (json.loads(data) if data else None)


def raw_topic(topics):
    return topics["KAFKA_TOPIC_RAW_ISSUES"]


def test_signed_delivery_lands_exactly_once(broker, topics, ingress):
    body = load_fixture("issues.opened.json")
    guid = str(uuid.uuid4())
    st, _, resp = post(ingress, "issues", body, delivery=guid)
    assert st == 202, resp
    assert resp["status"] == "accepted"
    assert resp["delivery_id"] == guid
    assert resp["key"] == "testorg/testrepo:issue:123"
    msgs = consume(broker.bootstrap, raw_topic(topics), expect=1)
    assert len(msgs) == 1
    m = msgs[0]
    assert m["key"] == "testorg/testrepo:issue:123"
    assert (m["partition"], m["offset"]) == (resp["partition"], resp["offset"])
    assert m["headers"]["x-github-delivery"] == guid
    assert m["headers"]["x-github-event"] == "issues"
    assert m["headers"]["x-github-hook-id"] == "123456"
    assert m["headers"]["correlation-id"] == guid
    assert m["headers"]["schema-version"] == "1"
    assert m["headers"]["content-type"] == "application/json"
    v = m["value"]
    gh = json.loads(body)
    assert v["schema_version"] == 1
    assert v["event_type"] == "issue"
    assert v["action"] == "opened"
    assert v["delivery_id"] == guid
    assert v["timestamp"].endswith("Z")
    assert v["repository"]["full_name"] == "testorg/testrepo"
    assert v["issue"]["title"] == gh["issue"]["title"]
    assert v["issue"]["body"] == gh["issue"]["body"]
    assert [l["name"] for l in v["issue"]["labels"]] == ["bug", "needs triage"]
    assert v["sender"] == {"login": "alice-dev", "id": 1000101, "type": "User"}
    # Nothing else arrives later.
    time.sleep(1.0)
    assert len(consume(broker.bootstrap, raw_topic(topics))) == 1


def test_every_event_kind_is_keyed_by_its_subject(broker, topics, ingress):
    cases = [("issues", "issues.opened.null_body.json", "testorg/testrepo:issue:125"),
             ("issue_comment", "issue_comment.created.json", "testorg/testrepo:issue:123"),
             ("issue_comment", "issue_comment.created.pull_request.json",
              "testorg/testrepo:pull_request:124"),
             ("pull_request", "pull_request.opened.json", "testorg/testrepo:pull_request:124")]
    for event, fixture, key in cases:
        st, _, resp = post(ingress, event, load_fixture(fixture))
        assert st == 202, resp
        assert resp["key"] == key
    msgs = consume(broker.bootstrap, raw_topic(topics), expect=len(cases))
    assert sorted(m["key"] for m in msgs) == sorted(k for _, _, k in cases)
    by_type = {m["value"]["event_type"] for m in msgs}
    assert by_type == {"issue", "issue_comment", "pull_request"}
    # Events of one subject share a partition (ordering per key).
    parts = {}
    for m in msgs:
        parts.setdefault(m["key"], set()).add(m["partition"])
    assert all(len(p) == 1 for p in parts.values())
    null_body = [m for m in msgs if m["key"].endswith(":issue:125")][0]
    assert null_body["value"]["issue"]["body"] is None


def test_forged_deliveries_are_refused_and_never_published(broker, topics, ingress):
    body = load_fixture("issues.opened.json")
    st, _, resp = post(ingress, "issues", body, secret="not-the-secret")
    assert st == 401 and resp["error"]["code"] == "bad_signature"
    st, _, resp = post(ingress, "issues", body, secret=None)
    assert st == 401 and "missing" in resp["error"]["message"]
    # Signed, then tampered with.
    h = webhook_headers("issues", body, SECRET)
    tampered = body.replace(b"Firefox", b"Chrome!")
    st, _, _ = request("POST", ingress.url + PATH, tampered, h)
    assert st == 401
    st, _, _ = post(ingress, "issues", body, headers={"X-Hub-Signature-256": "sha256=zz"})
    assert st == 401
    # A forged ping is refused too.
    st, _, _ = post(ingress, "ping", load_fixture("ping.json"), secret="nope")
    assert st == 401
    # A valid one afterwards proves the topic is readable; only it is there.
    guid = str(uuid.uuid4())
    assert post(ingress, "issues", body, delivery=guid)[0] == 202
    msgs = consume(broker.bootstrap, raw_topic(topics), expect=1)
    assert [m["headers"]["x-github-delivery"] for m in msgs] == [guid]
    assert "sha256=" not in ingress.logs()


def test_redelivery_is_a_duplicate(broker, topics, ingress):
    body = load_fixture("issue_comment.created.json")
    guid = str(uuid.uuid4())
    st1, _, r1 = post(ingress, "issue_comment", body, delivery=guid)
    st2, _, r2 = post(ingress, "issue_comment", body, delivery=guid)
    assert (st1, r1["status"]) == (202, "accepted")
    assert (st2, r2["status"]) == (200, "duplicate")
    assert (r2["partition"], r2["offset"]) == (r1["partition"], r1["offset"])
    # Concurrent deliveries of one new GUID: one publishes, the others wait for it.
    guid2 = str(uuid.uuid4())
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        results = list(ex.map(lambda _: post(ingress, "issue_comment", body, delivery=guid2),
                              range(16)))
    statuses = sorted(r[0] for r in results)
    assert statuses.count(202) == 1, statuses
    assert statuses.count(200) == 15, statuses
    assert all(r[2]["status"] == "duplicate" for r in results if r[0] == 200)
    msgs = consume(broker.bootstrap, raw_topic(topics), expect=2)
    time.sleep(0.5)
    msgs = consume(broker.bootstrap, raw_topic(topics))
    assert sorted(m["headers"]["x-github-delivery"] for m in msgs) == sorted([guid, guid2])


def test_exact_statuses_for_bad_requests(broker, topics, ingress):
    body = load_fixture("issues.opened.json")
    url = ingress.url + PATH
    st, h, data = request("GET", url)
    assert st == 405 and h.get("allow") == "POST"
    assert json.loads(data)["error"]["code"] == "method_not_allowed"
    hd = webhook_headers("issues", body, SECRET)
    del hd["X-GitHub-Event"]
    st, _, data = request("POST", url, body, hd)
    assert st == 400 and json.loads(data)["error"]["code"] == "missing_event"
    hd = webhook_headers("issues", body, SECRET, delivery="bad guid with spaces")
    st, _, data = request("POST", url, body, hd)
    assert st == 400 and json.loads(data)["error"]["code"] == "bad_delivery_id"
    st, _, resp = post(ingress, "issues", body, content_type="text/plain")
    assert st == 415 and resp["error"]["code"] == "unsupported_media_type"
    # Valid signature, invalid JSON / JSON of the wrong shape.
    st, _, resp = post(ingress, "issues", b'{"action": "opened", ')
    assert st == 400 and resp["error"]["code"] == "invalid_json"
    st, _, resp = post(ingress, "issues", b"")
    assert st == 400 and resp["error"]["code"] == "invalid_json"
    st, _, resp = post(ingress, "issues", b'[1, 2]')
    assert st == 400 and resp["error"]["code"] == "invalid_json"
    # Signed JSON of a shape we cannot map is not refused but dead-lettered
    # (test_ingress_hardening.py has the details).
    st, _, resp = post(ingress, "issues", b'{"action": "opened"}')
    assert st == 202 and resp["status"] == "dead_lettered", resp
    assert "repository" in resp["reason"]
    st, _, _ = request("POST", ingress.url + "/webhook/gitlab", body,
                       webhook_headers("issues", body, SECRET))
    assert st == 404
    # ping and events we do not publish.
    st, _, resp = post(ingress, "ping", load_fixture("ping.json"))
    assert (st, resp) == (200, {"status": "pong"})
    st, _, resp = post(ingress, "push", b'{"ref":"refs/heads/main"}')
    assert (st, resp) == (202, {"status": "ignored"})
    # The log names the event as sent; the metric label stays bounded ("other").
    wait_for(lambda: "event=push action=- key=- status=202 outcome=ignored" in ingress.logs(),
             timeout=5, what="ignored delivery log line")
    st, _, _ = post(ingress, "push\" injected=1", b"{}")
    assert st == 202
    wait_for(lambda: "event=push??injected?1 " in ingress.logs(), timeout=5,
             what="sanitised event name")
    time.sleep(0.5)
    assert consume(broker.bootstrap, raw_topic(topics)) == []


def test_form_encoded_delivery(broker, topics, ingress):
    payload = load_fixture("pull_request.synchronize.json")
    form = ("payload=" + urllib.parse.quote_plus(payload.decode())).encode()
    st, _, resp = post(ingress, "pull_request", form,
                       content_type="application/x-www-form-urlencoded")
    assert st == 202, resp
    assert resp["key"] == "testorg/testrepo:pull_request:124"
    st, _, resp = post(ingress, "pull_request", b"payload=%7Bbad%ZZ",
                       content_type="application/x-www-form-urlencoded")
    assert st == 400 and resp["error"]["code"] == "invalid_json"
    st, _, resp = post(ingress, "pull_request", b"other=1",
                       content_type="application/x-www-form-urlencoded")
    assert st == 400 and "payload" in resp["error"]["message"]
    msgs = consume(broker.bootstrap, raw_topic(topics), expect=1)
    assert len(msgs) == 1
    assert msgs[0]["value"]["pull_request"]["head_ref"] == "ingress-ack-after-delivery"


def test_oversized_body_is_refused_without_reading_it(broker, topics):
    d = start_ingress(broker, topics, INGRESS_MAX_BODY="64KiB")
    try:
        big = b'{"pad":"' + b"x" * (8 * 1024 * 1024) + b'"}'
        h = webhook_headers("issues", big, SECRET)
        s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        head = (f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(big)}\r\n"
                + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n").encode()
        s.sendall(head)
        # Only the headers were sent: the answer must not wait for 8 MiB.
        data = s.recv(4096)
        s.close()
        assert data.startswith(b"HTTP/1.1 413"), data[:200]
        assert b"payload_too_large" in data
        # A body just under the cap still works.
        ok = load_fixture("issues.opened.json")
        assert post(d, "issues", ok)[0] == 202
    finally:
        assert d.stop() == 0


def test_request_timeout_closes_slow_uploads(broker, topics):
    d = start_ingress(broker, topics, HTTP_REQUEST_TIMEOUT="2s", INGRESS_PUBLISH_TIMEOUT="1s")
    try:
        body = load_fixture("issues.opened.json")
        h = webhook_headers("issues", body, SECRET)
        s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        s.sendall((f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
                   + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n").encode())
        t0 = time.monotonic()
        got = b""
        s.settimeout(0.4)
        # Trickle a byte every 400 ms: never idle long enough for the idle timeout.
        for i in range(40):
            try:
                s.sendall(body[i:i + 1])
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
                break
            except socket.timeout:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
        elapsed = time.monotonic() - t0
        s.close()
        assert elapsed < 4.0, elapsed
        assert got == b"" or got.startswith(b"HTTP/1.1 408"), got[:100]
        wait_for(lambda: "outcome=request_timeout" in d.logs(), timeout=5, what="log line")
        assert post(d, "issues", body)[0] == 202
    finally:
        assert d.stop() == 0


def test_rate_limit_answers_429_with_headers(broker, topics):
    d = start_ingress(broker, topics, INGRESS_RATELIMIT="true", INGRESS_RATELIMIT_RATE="0.5",
                      INGRESS_RATELIMIT_BURST="3")
    try:
        body = load_fixture("issues.opened.json")
        statuses = [post(d, "issues", body)[0] for _ in range(3)]
        assert statuses == [202, 202, 202]
        st, h, resp = post(d, "issues", body)
        assert st == 429 and resp["error"]["code"] == "rate_limited"
        assert int(h["retry-after"]) in (1, 2)
        assert h["x-ratelimit-limit"] == "3"
        assert h["x-ratelimit-remaining"] == "0"
        assert int(h["x-ratelimit-reset"]) >= int(time.time())
        # Health and metrics are not rate limited.
        assert request("GET", d.url + "/health")[0] == 200
        time.sleep(2.1)
        assert post(d, "issues", body)[0] == 202
        assert len(consume(broker.bootstrap, raw_topic(topics), expect=4)) == 4
    finally:
        assert d.stop() == 0


def test_rate_limit_is_off_by_default(broker, topics, ingress):
    body = load_fixture("issues.opened.json")
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        sts = list(ex.map(lambda _: post(ingress, "issues", body)[0], range(150)))
    assert set(sts) == {202}


def test_metrics_count_deliveries(broker, topics, ingress):
    body = load_fixture("issues.opened.json")
    guid = str(uuid.uuid4())
    post(ingress, "issues", body, delivery=guid)
    post(ingress, "issues", body, delivery=guid)
    post(ingress, "issues", body, secret="wrong")
    post(ingress, "ping", load_fixture("ping.json"))
    st, _, text = request("GET", ingress.url + "/metrics")
    assert st == 200
    text = text.decode()

    def value(line_start):
        for line in text.splitlines():
            if line.startswith(line_start):
                return float(line.rsplit(" ", 1)[1])
        raise AssertionError(f"{line_start} not in metrics:\n{text[:3000]}")
    assert value('dai_ingress_received_total{event="issues"}') == 3
    assert value('dai_ingress_accepted_total{event="issues"}') == 1
    assert value('dai_ingress_duplicates_total{event="issues"}') == 1
    assert value('dai_ingress_rejected_total{event="issues",reason="bad_signature"}') == 1
    assert value('dai_ingress_ignored_total{event="ping"}') == 1
    assert value("dai_ingress_publish_latency_seconds_count") == 1
    assert value("dai_ingress_waiting_requests") == 0
    assert "dai_ingress_producer_queue_depth" in text


def test_accepted_events_are_configurable(broker, topics):
    d = start_ingress(broker, topics, INGRESS_EVENTS="issues")
    try:
        st, _, resp = post(d, "issue_comment", load_fixture("issue_comment.created.json"))
        assert (st, resp) == (202, {"status": "ignored"})
        assert post(d, "issues", load_fixture("issues.closed.json"))[0] == 202
        msgs = consume(broker.bootstrap, raw_topic(topics), expect=1)
        assert [m["value"]["action"] for m in msgs] == ["closed"]
    finally:
        assert d.stop() == 0


def test_secret_rotation_accepts_old_and_new(broker, topics):
    d = start_ingress(broker, topics, GITHUB_WEBHOOK_SECRET="new-secret",
                      GITHUB_WEBHOOK_SECRETS="old-secret,older-secret")
    try:
        body = load_fixture("issues.labeled.json")
        for s in ("new-secret", "old-secret", "older-secret"):
            assert post(d, "issues", body, secret=s)[0] == 202
        assert post(d, "issues", body, secret="unknown")[0] == 401
        assert "old-secret" not in d.logs() and "new-secret" not in d.logs()
    finally:
        assert d.stop() == 0


def test_refuses_to_start_without_a_secret(broker, topics):
    env = dict(topics, KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap, GITHUB_WEBHOOK_SECRET="",
               INGRESS_PORT=str(free_port()))
    r = subprocess.run([str(daitest.BIN_DIR / "dispatchai-ingress")], env={**__import__("os").environ, **env},
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "GITHUB_WEBHOOK_SECRET" in r.stderr


def test_insecure_mode_is_explicit_and_loud(broker, topics):
    d = start_ingress(broker, topics, args=["--insecure-skip-signature"], GITHUB_WEBHOOK_SECRET="")
    try:
        assert "INSECURE" in d.logs()
        assert post(d, "issues", load_fixture("issues.opened.json"), secret=None)[0] == 202
    finally:
        assert d.stop() == 0


def test_ready_reports_a_missing_topic(broker, topics):
    t = dict(topics, KAFKA_TOPIC_RAW_ISSUES="missing-" + uuid.uuid4().hex[:8])
    d = start_ingress(broker, t, wait_ready=False, KAFKA_ENSURE_TOPICS="false")
    try:
        def not_ready():
            st, _, data = request("GET", d.url + "/ready", timeout=5)
            return st == 503 and b"not_ready" in data
        wait_for(not_ready, timeout=20, what="/ready 503")
        assert request("GET", d.url + "/health")[0] == 200
    finally:
        assert d.stop() == 0
