"""Integration tests for the ingress's safe defaults (issue 14): the real daemon
against the session's real Kafka broker.

Covers: producer pass-throughs that would weaken "202 means on the broker" are
refused at start; a permanent produce failure is 413/500 without Retry-After,
not 503; GitHub's pinned/unpinned deliveries (no issue.state) are published; a
signed JSON delivery the normaliser cannot map is acknowledged and dead-lettered
with its reason and original payload, counted, and a redelivery of it is a
duplicate; values from requests cannot add fields to JSON log lines.
"""
import json
import os
import subprocess
import uuid

import daitest
from daitest import Daemon, consume, free_port, load_fixture, request, wait_for, webhook_headers

SECRET = "hardening-secret-1"
PATH = "/webhook/github"


def start_ingress(broker, topics, args=(), **env):
    port = free_port()
    e = {"GITHUB_WEBHOOK_SECRET": SECRET, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
         "INGRESS_PORT": port, "HTTP_BIND": "127.0.0.1", "LOG_LEVEL": "info"}
    e.update(topics)
    e.update({k: str(v) for k, v in env.items()})
    return Daemon("ingress", port, env=e, args=args).start()


def post(d, event, body, delivery=None):
    h = webhook_headers(event, body, SECRET, delivery=delivery)
    st, hdrs, data = request("POST", d.url + PATH, body, h, timeout=15)
    return st, hdrs, (json.loads(data) if data else None)


def metric(d, name, **labels):
    st, _, data = request("GET", d.url + "/metrics")
    assert st == 200
    want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
                   if labels else "")
    for line in data.decode().splitlines():
        if line.startswith(want + " "):
            return float(line.split()[-1])
    return 0.0


def test_weak_durability_settings_are_refused_at_start(broker, topics):
    env = {**os.environ, **topics, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
           "GITHUB_WEBHOOK_SECRET": SECRET, "INGRESS_PORT": str(free_port())}
    # librdkafka itself accepts acks=1 once idempotence is off, and any
    # max.in.flight without it: both would silently weaken a 202.
    for args, words in [(["--kafka.producer.enable.idempotence=false",
                          "--kafka.producer.acks=1"], "enable.idempotence=false"),
                        (["--kafka.producer.acks=1"], "acks=1"),
                        (["--kafka.producer.enable.idempotence=false",
                          "--kafka.producer.max.in.flight=50"], "enable.idempotence"),
                        (["--kafka.producer.max.in.flight=50"], "max.in.flight=50")]:
        r = subprocess.run([str(daitest.BIN_DIR / "dispatchai-ingress"), *args], env=env,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 2, (args, r.returncode, r.stderr[-2000:])
        assert words in r.stderr and "kafka.producer." in r.stderr, r.stderr[-2000:]
        assert "listening" not in r.stderr


def test_event_too_large_for_the_broker_is_413_not_503(broker, topics):
    # librdkafka's smallest message.max.bytes (1000) is below the raw event of
    # the fixture: the producer refuses it for good, so retrying cannot help.
    d = start_ingress(broker, topics, args=["--kafka.producer.message.max.bytes=1000"])
    try:
        st, hdrs, resp = post(d, "issues", load_fixture("issues.opened.json"))
        assert st == 413, resp
        assert resp["error"]["code"] == "event_too_large"
        assert "retry-after" not in hdrs
        # The small ping still works; nothing reached the raw topic.
        assert post(d, "ping", load_fixture("ping.json"))[0] == 200
        assert consume(broker.bootstrap, topics["KAFKA_TOPIC_RAW_ISSUES"]) == []
    finally:
        assert d.stop() == 0


def test_pinned_and_unpinned_deliveries_are_published(broker, topics):
    d = start_ingress(broker, topics)
    try:
        for name in ("issues.pinned.json", "issues.unpinned.json"):
            st, _, resp = post(d, "issues", load_fixture(name))
            assert st == 202 and resp["status"] == "accepted", resp
        msgs = consume(broker.bootstrap, topics["KAFKA_TOPIC_RAW_ISSUES"], expect=2)
        assert sorted(m["value"]["action"] for m in msgs) == ["pinned", "unpinned"]
        assert all("state" not in m["value"]["issue"] for m in msgs)
        validate = daitest.schema_validator("raw-event")
        for m in msgs:
            validate.validate(m["value"])
    finally:
        assert d.stop() == 0


def test_unmappable_delivery_is_dead_lettered_not_lost(broker, topics):
    d = start_ingress(broker, topics)
    try:
        payload = json.loads(load_fixture("issues.opened.json"))
        del payload["repository"]["owner"]
        body = json.dumps(payload).encode()
        guid = str(uuid.uuid4())
        st, hdrs, resp = post(d, "issues", body, delivery=guid)
        assert st == 202, resp
        assert resp["status"] == "dead_lettered"
        assert "repository.owner" in resp["reason"]
        msgs = consume(broker.bootstrap, topics["KAFKA_TOPIC_DLQ"], expect=1)
        assert len(msgs) == 1
        m = msgs[0]
        assert (m["partition"], m["offset"]) == (resp["partition"], resp["offset"])
        assert m["key"] == guid
        assert m["value"] == payload  # the original payload, as received
        h = m["headers"]
        assert h["dlq-source"] == "ingress"
        assert h["dlq-reason"].startswith("schema: repository.owner")
        assert h["x-github-delivery"] == guid and h["x-github-event"] == "issues"
        assert int(h["dlq-received-at"]) > 0
        assert "schema-version" not in h
        assert metric(d, "dai_ingress_dead_letters_total", event="issues") == 1
        # GitHub's redelivery of the same GUID is a duplicate, not a second letter.
        st, _, resp2 = post(d, "issues", body, delivery=guid)
        assert st == 200 and resp2["status"] == "duplicate", resp2
        # Not JSON at all stays 400.
        st, _, resp3 = post(d, "issues", b'{"action": "opened", ')
        assert st == 400 and resp3["error"]["code"] == "invalid_json"
        assert post(d, "ping", load_fixture("ping.json"))[0] == 200
        assert len(consume(broker.bootstrap, topics["KAFKA_TOPIC_DLQ"])) == 1
        assert consume(broker.bootstrap, topics["KAFKA_TOPIC_RAW_ISSUES"]) == []
    finally:
        assert d.stop() == 0


def test_json_log_fields_cannot_be_injected_from_a_delivery(broker, topics):
    d = start_ingress(broker, topics, LOG_FORMAT="json")
    try:
        payload = json.loads(load_fixture("issues.opened.json"))
        payload["action"] = 'opened level=error injected=yes'
        payload["repository"]["full_name"] = 'testorg/test repo" status=999 injected="1'
        body = json.dumps(payload).encode()
        guid = str(uuid.uuid4())
        st, _, resp = post(d, "issues", body, delivery=guid)
        assert st == 202, resp

        def line():
            for raw in d.logs().splitlines():
                if raw.startswith("{") and guid in raw and "status" in raw:
                    return json.loads(raw)
            return None
        entry = wait_for(line, timeout=10, what="the delivery's JSON log line")
        assert entry["msg"] == "delivery", entry
        assert "injected" not in entry and "_level" not in entry, entry
        assert entry["action"] == payload["action"]
        assert entry["key"] == payload["repository"]["full_name"] + ":issue:123"
        assert entry["status"] == "202" and entry["delivery_id"] == guid
        assert entry["level"] == "info"
    finally:
        assert d.stop() == 0
