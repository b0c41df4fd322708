"""Re-driving the ingress's dead letters (`dispatchai-ingress redrive`) with the
real daemon and a real broker.

A delivery today's normaliser cannot map (no repository.owner) is dead-lettered
by the running daemon; next to it sits a dead letter an older release wrote for a
delivery today's normaliser does map (GitHub's pinned payload, no issue.state),
and a classifier dead letter that is not the ingress's. The re-drive publishes
the mappable one to the raw topic exactly as the webhook would have (key,
headers, delivery id, receive time), puts the unmappable one back at the end of
the dead-letter topic, leaves the classifier's alone, and a second run does not
publish anything twice.
"""
import json
import os
import subprocess
import uuid

import daitest
from daitest import Daemon, consume, free_port, load_fixture, request, webhook_headers

SECRET = "redrive-secret-1"


def redrive(env):
    r = subprocess.run([str(daitest.BIN_DIR / "dispatchai-ingress"), "redrive"],
                       env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout.strip().splitlines()[-1] if r.stdout.strip() else "", r.stderr


def test_dead_letters_are_redriven_once_the_normaliser_maps_them(broker):
    topics = daitest.unique_topics("redrive")
    env = {"GITHUB_WEBHOOK_SECRET": SECRET, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
           "HTTP_BIND": "127.0.0.1", "LOG_LEVEL": "info", **topics}
    port = free_port()
    d = Daemon("ingress", port, env={**env, "INGRESS_PORT": port}).start()
    try:
        broken = json.loads(load_fixture("issues.opened.json"))
        del broken["repository"]["owner"]
        body = json.dumps(broken).encode()
        lost_guid = str(uuid.uuid4())
        st, _, data = request("POST", d.url + "/webhook/github", body,
                              webhook_headers("issues", body, SECRET, delivery=lost_guid))
        assert st == 202 and json.loads(data)["status"] == "dead_lettered", data
    finally:
        assert d.stop() == 0
    dlq, raw = topics["KAFKA_TOPIC_DLQ"], topics["KAFKA_TOPIC_RAW_ISSUES"]
    [written] = consume(broker.bootstrap, dlq, expect=1)

    # What an older release wrote for GitHub's pinned delivery (it required
    # issue.state): the same record layout the daemon just wrote.
    pinned_guid = str(uuid.uuid4())
    received_ms = 1764410400123  # 2025-11-29T10:00:00.123Z
    headers = dict(written["headers"])
    headers.update({"x-github-delivery": pinned_guid, "correlation-id": pinned_guid,
                    "dlq-reason": "schema: issue.state: missing or not a string",
                    "dlq-received-at": str(received_ms)})
    daitest.produce(broker.bootstrap, dlq, pinned_guid, load_fixture("issues.pinned.json"),
                    headers)
    # A classifier dead letter: not the ingress's to re-drive.
    daitest.produce(broker.bootstrap, dlq, "testorg/testrepo:issue:9", b"not json",
                    {"dlq-reason": "invalid_json: x", "dlq-original-topic": raw,
                     "dlq-original-partition": "0", "dlq-original-offset": "7"})
    assert len(consume(broker.bootstrap, dlq, expect=3)) == 3

    code, summary, err = redrive(env)
    assert code == 0, err[-3000:]
    assert summary == "redrive: read=3 redriven=1 still_unmappable=1 skipped=1 failed=0", err

    [m] = consume(broker.bootstrap, raw, expect=1)
    assert m["key"] == "testorg/testrepo:issue:123"
    v = m["value"]
    assert v["action"] == "pinned" and v["delivery_id"] == pinned_guid
    assert v["timestamp"] == "2025-11-29T10:00:00.123Z"
    assert "state" not in v["issue"]
    daitest.schema_validator("raw-event").validate(v)
    h = m["headers"]
    assert h["x-github-delivery"] == pinned_guid and h["x-github-event"] == "issues"
    assert h["schema-version"] == "1" and h["correlation-id"] == pinned_guid
    assert not any(k.startswith("dlq-") for k in h)

    # The unmappable one is back at the end, unchanged, with today's reason.
    letters = consume(broker.bootstrap, dlq, expect=4)
    assert len(letters) == 4
    back = [x for x in letters if x["key"] == lost_guid]
    assert len(back) == 2
    assert back[1]["value"] == back[0]["value"] == broken
    assert back[1]["headers"]["dlq-reason"].startswith("schema: repository.owner")
    assert back[1]["headers"]["dlq-source"] == "ingress"

    # A second run reads only what is new (the put-back letter): nothing twice.
    code, summary, err = redrive(env)
    assert code == 0, err[-3000:]
    assert summary == "redrive: read=1 redriven=0 still_unmappable=1 skipped=0 failed=0", err
    assert len(consume(broker.bootstrap, raw)) == 1
