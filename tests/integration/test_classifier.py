"""Classifier integration tests: the real dispatchai-classifier process against
the session's real Kafka broker (unique topics and group per test) and the
fake OpenAI-compatible LLM (tests/fake_llm). Raw events are crafted per
docs/events.md.

Covers: raw in -> enriched out with the documented schema and per-key order;
an unchanged issue is never sent to the LLM again (also after a restart);
poison messages go to the dead-letter topic and the partition moves on; no
LLM configured -> offline; the API key reaches the LLM but never the logs or
metrics; the --classify-jsonl command line.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fake_llm"))
import harness as h  # noqa: E402
import daitest  # noqa: E402


@pytest.fixture
def llm():
    f = h.FakeLLM().start()
    yield f
    f.stop()


def test_classifier_raw_to_enriched_valid_schema(broker, topics, llm):
    events = [
        h.raw_event(1, title="App crashes when saving through the api", labels=["bug"]),
        h.raw_event(2, title="How do I configure the proxy?", body="Is it possible at all?"),
        h.raw_event(3, event_type="pull_request", title="Add support for dark mode in the ui",
                    body="Adds a toggle to the settings page."),
        h.raw_event(1, action="labeled", title="App crashes when saving through the api",
                    labels=["bug", "p1"]),
        h.raw_event(1, event_type="issue_comment", action="created",
                    title="App crashes when saving through the api"),
        h.raw_event(4, title="Typo in the README", body=None),
    ]
    d = h.classifier(broker.bootstrap, topics, llm=llm).start()
    try:
        h.produce_many(broker.bootstrap, topics["KAFKA_TOPIC_RAW_ISSUES"], events)
        got = h.enriched(broker.bootstrap, topics, expect=len(events))
        assert len(got) == len(events), d.logs()[-3000:]
        by_delivery = {ev["delivery_id"]: (k, ev) for k, ev in events}
        for m in got:
            key, raw = by_delivery[m["value"]["delivery_id"]]
            assert m["key"] == key
            h.check_enriched(m, raw)
        # every event of issue 1 is in one partition, in input order, and the
        # label/comment events carry the classification of the open
        issue1 = sorted((m for m in got if m["key"] == "acme/app:issue:1"),
                        key=lambda m: m["offset"])
        assert [m["value"]["action"] for m in issue1] == ["opened", "labeled", "created"]
        assert len({m["partition"] for m in issue1}) == 1
        first = issue1[0]["value"]
        assert first["classification"]["source"] == "llm"
        assert first["classification"]["category"] == "bug"
        assert first["classification"]["suggested_assignee"] == "backend"
        assert first["processing_metadata"]["attempts"] == 1
        for m in issue1[1:]:
            assert m["value"]["classification"] == first["classification"]
            assert m["value"]["processing_metadata"]["attempts"] == 0
        q = next(m for m in got if m["key"] == "acme/app:issue:2")["value"]
        assert q["classification"]["category"] == "question"
        pr = next(m for m in got if m["key"] == "acme/app:pull_request:3")["value"]
        assert pr["classification"]["category"] == "feature_request"
        assert pr["classification"]["suggested_assignee"] == "frontend"
        # the LLM was asked once per issue, with structured output
        st = llm.stats()
        assert st["chat_requests"] == 4
        assert st["response_formats"] == {"json_schema": 4}
        # headers of the raw message travel on
        assert all(m["headers"].get("schema-version") == "1" for m in got)
        m = h.metrics(d)
        assert m["dai_classifier_consumed_total"] == 6
        assert m["dai_classifier_reused_total"] == 2
        assert m['dai_classifier_classified_total{source="llm",category="bug"}'] >= 1
        assert m["dai_classifier_llm_request_duration_seconds_count"] == 4
        assert m["dai_classifier_circuit_state"] == 0
        daitest.wait_for(lambda: 'dai_classifier_consumer_lag{partition="0"}' in h.metrics(d),
                         timeout=10, what="per-partition lag published")
        assert "classified key=acme/app:issue:1 category=bug" in d.logs()
    finally:
        assert d.stop() == 0


def test_classifier_unchanged_issue_not_resent_even_after_restart(broker, topics, llm):
    txn = group = "cls-resend-" + topics["KAFKA_TOPIC_RAW_ISSUES"].split(".")[0]
    title, body = "Login page hangs forever", "Spinner never stops."
    raw = topics["KAFKA_TOPIC_RAW_ISSUES"]
    d = h.classifier(broker.bootstrap, topics, llm=llm, txn_id=txn, group=group).start()
    try:
        h.produce_many(broker.bootstrap, raw, [
            h.raw_event(9, title=title, body=body),
            h.raw_event(9, action="edited", title=title, body=body, changes=["body"]),
            h.raw_event(9, action="edited", title=title + "!", body=body,
                        changes=["milestone"]),
            h.raw_event(9, action="reopened", title=title, body=body),
            h.raw_event(9, event_type="issue_comment", action="created", title=title,
                        body=body),
        ])
        assert len(h.enriched(broker.bootstrap, topics, expect=5)) == 5
        assert llm.stats()["titles"] == {title: 1}
    finally:
        assert d.stop() == 0

    # a new process with the same transactional.id rebuilds its state from the
    # enriched topic: a redelivered open and a no-op edit stay away from the LLM
    d = h.classifier(broker.bootstrap, topics, llm=llm, txn_id=txn, group=group).start()
    try:
        h.produce_many(broker.bootstrap, raw, [
            h.raw_event(9, title=title, body=body),
            h.raw_event(9, action="edited", title=title, body=body, changes=["title"]),
        ])
        got = h.enriched(broker.bootstrap, topics, expect=7)
        assert len(got) == 7
        assert llm.stats()["titles"] == {title: 1}
        last = sorted(got, key=lambda m: m["offset"])[-1]["value"]
        assert last["classification"]["source"] == "llm"
        assert last["processing_metadata"]["attempts"] == 0
        assert h.metric(d, "dai_classifier_state_keys") >= 1
        # a real edit is classified again
        h.produce_many(broker.bootstrap, raw, [
            h.raw_event(9, action="edited", title=title, body=body + " Also on mobile.",
                        changes=["body"])])
        assert len(h.enriched(broker.bootstrap, topics, expect=8)) == 8
        assert llm.stats()["titles"] == {title: 2}
    finally:
        assert d.stop() == 0


def test_classifier_poison_goes_to_dlq_and_partition_moves_on(broker, topics, llm):
    raw = topics["KAFKA_TOPIC_RAW_ISSUES"]
    key = "acme/app:issue:5"
    good1 = h.raw_event(5, title="Crash in exporter")[1]
    bad_schema = dict(good1, schema_version=99)
    no_subject = {k: v for k, v in good1.items() if k != "issue"}
    good2 = h.raw_event(5, action="closed", title="Crash in exporter")[1]
    # one key = one partition: the poison sits between two good events
    d = h.classifier(broker.bootstrap, topics, llm=llm).start()
    try:
        h.produce_many(broker.bootstrap, raw, [
            (key, good1), (key, "this is {not json"), (key, bad_schema), (key, no_subject),
            (key, good2)])
        got = h.enriched(broker.bootstrap, topics, expect=2)
        assert [m["value"]["action"] for m in sorted(got, key=lambda m: m["offset"])] == \
            ["opened", "closed"]
        dlq = daitest.consume(broker.bootstrap, topics["KAFKA_TOPIC_DLQ"], expect=3)
        assert len(dlq) == 3
        src = daitest.consume(broker.bootstrap, raw)
        src_offsets = {m["offset"]: m for m in src}
        reasons = []
        for m in dlq:
            hd = m["headers"]
            assert hd["dlq-original-topic"] == raw
            off = int(hd["dlq-original-offset"])
            orig = src_offsets[off]
            assert int(hd["dlq-original-partition"]) == orig["partition"]
            assert m["key"] == key
            assert m["value"] == orig["value"], "the original bytes go to the DLQ unchanged"
            reasons.append(hd["dlq-reason"])
        assert reasons[0].startswith("invalid_json: ")
        assert reasons[1].startswith("schema: ") and "version" in reasons[1]
        assert reasons[2].startswith("schema: ")
        m = h.metrics(d)
        assert m['dai_classifier_dlq_total{reason="invalid_json"}'] == 1
        assert m['dai_classifier_dlq_total{reason="schema"}'] == 2
        assert "dead-lettered" in d.logs()
        assert "not json" not in d.logs(), "payload bytes stay out of the log"
    finally:
        assert d.stop() == 0


def test_classifier_oversized_events_are_dead_lettered(broker, topics):
    raw = topics["KAFKA_TOPIC_RAW_ISSUES"]
    key = "acme/app:issue:6"
    # a raw event just under the 4 KiB cap: fits, but not once classified
    near = h.raw_event(6, title="Crash", body="")[1]
    near["issue"]["body"] = "x" * (4060 - len(json.dumps(near)))
    assert len(json.dumps(near)) <= 4096
    huge = h.raw_event(6, action="edited", title="Crash", body="y" * 6000, changes=["body"])[1]
    after = h.raw_event(6, action="closed", title="Crash", body="short")[1]
    d = h.classifier(broker.bootstrap, topics, env={"CLASSIFIER_MAX_MESSAGE_BYTES": "4096"})
    d.start()
    try:
        h.produce_many(broker.bootstrap, raw, [(key, near), (key, huge), (key, after)])
        got = h.enriched(broker.bootstrap, topics, expect=1)
        assert [m["value"]["action"] for m in got] == ["closed"]
        dlq = sorted(daitest.consume(broker.bootstrap, topics["KAFKA_TOPIC_DLQ"], expect=2),
                     key=lambda m: int(m["headers"]["dlq-original-offset"]))
        assert len(dlq) == 2
        assert dlq[0]["headers"]["dlq-reason"].startswith("enriched_too_big")
        assert dlq[0]["value"] == near
        assert dlq[1]["headers"]["dlq-reason"].startswith("too_big")
        assert "payload of" in dlq[1]["headers"]["dlq-reason"]
        assert not dlq[1]["value"]
        assert h.metric(d, "dai_classifier_transactions_total{outcome=\"abort\"}") == 0
    finally:
        assert d.stop() == 0


def test_classifier_offline_when_no_llm(broker, topics):
    d = h.classifier(broker.bootstrap, topics).start()
    try:
        h.produce_many(broker.bootstrap, topics["KAFKA_TOPIC_RAW_ISSUES"],
                       [h.raw_event(i) for i in range(1, 21)])
        got = h.enriched(broker.bootstrap, topics, expect=20)
        assert len(got) == 20
        for m in got:
            v = h.check_enriched(m)
            assert v["classification"]["source"] == "offline"
            assert v["processing_metadata"]["model_version"].startswith("offline")
        logs = d.logs()
        assert logs.count("no LLM configured") == 1
        assert h.metric(d, "dai_classifier_llm_in_flight") == 0
    finally:
        assert d.stop() == 0


def test_classifier_api_key_never_logged(broker, topics):
    key = "sk-test-" + "Z9" * 20
    llm = h.FakeLLM("--api-key", key).start()
    d = h.classifier(broker.bootstrap, topics, llm=llm,
                     env={"LLM_API_KEY": key, "LOG_LEVEL": "debug"}).start()
    try:
        h.produce_many(broker.bootstrap, topics["KAFKA_TOPIC_RAW_ISSUES"], [h.raw_event(1)])
        got = h.enriched(broker.bootstrap, topics, expect=1)
        # the fake answers 401 without the right Authorization header
        assert got[0]["value"]["classification"]["source"] == "llm"
        st, _, body = daitest.request("GET", f"{d.url}/metrics")
        assert key.encode() not in body
        assert key not in d.logs()
        pc = subprocess.run([str(d.binary), "--print-config"], env=d.env, capture_output=True,
                            text=True, timeout=30)
        assert key not in pc.stdout and "llm.api_key = ***" in pc.stdout
    finally:
        d.stop()
        llm.stop()
    assert key not in d.logs()


def _jsonl(args, lines, env=None, timeout=60):
    e = dict(h.classifier("127.0.0.1:1", {}).env)
    e.update(env or {})
    return subprocess.run([str(daitest.BIN_DIR / "dispatchai-classifier"), "--classify-jsonl",
                           *args], input="\n".join(lines) + "\n", env=e, capture_output=True,
                          text=True, timeout=timeout)


def test_classifier_jsonl_cli(llm):
    _, ev = h.raw_event(3, title="Security: token leaked in logs")
    lines = [json.dumps({"id": 1, "title": "App crashes on start", "body": "Traceback ..."}),
             "not json at all",
             json.dumps({"id": "x", "body": "no title"}),
             json.dumps(dict(ev, id="raw-3")),
             json.dumps({"title": "How do I export to CSV?", "body": None, "repo": "a/b"})]
    r = _jsonl(["--offline"], lines)
    assert r.returncode == 0, r.stderr
    out = [json.loads(l) for l in r.stdout.splitlines()]
    assert len(out) == 5
    assert out[0]["id"] == 1 and out[0]["source"] == "offline"
    assert set(out[0]) == {"id", "category", "priority", "effort_estimate",
                           "suggested_assignee", "confidence", "reasoning", "source"}
    assert out[1]["error"]["code"] == "invalid_json" and out[1]["line"] == 2
    assert out[2]["error"]["code"] == "invalid_input" and out[2]["id"] == "x"
    assert out[3]["id"] == "raw-3" and out[3]["category"] in h.CATEGORIES
    assert out[4]["category"] in h.CATEGORIES and "id" not in out[4]

    # with an LLM configured the same lines go to it (in order), unless --offline
    r = _jsonl([], lines, env={"LLM_BASE_URL": llm.base_url})
    assert r.returncode == 0, r.stderr
    out = [json.loads(l) for l in r.stdout.splitlines()]
    assert [o.get("source") for o in out] == ["llm", None, None, "llm", "llm"]
    assert out[3]["category"] == "security"
    assert llm.stats()["chat_requests"] == 3


def test_classifier_jsonl_nul_in_text_is_replaced(llm):
    """NUL (\\u0000) in a title or body is not invalid JSON: it is read as
    U+FFFD (docs/events.md, "NUL in text"), offline and through the LLM."""
    lines = [json.dumps({"id": 1, "title": "App crashes\u0000 on start",
                         "body": "Traceback\u0000\u0000 ..."}),
             json.dumps({"id": 2, "title": "literal \\u0000 stays text", "body": None})]
    r = _jsonl(["--offline"], lines)
    assert r.returncode == 0, r.stderr
    out = [json.loads(l) for l in r.stdout.splitlines()]
    assert [o.get("id") for o in out] == [1, 2], out
    assert all("error" not in o and o["source"] == "offline" for o in out), out

    r = _jsonl([], lines[:1], env={"LLM_BASE_URL": llm.base_url})
    assert r.returncode == 0, r.stderr
    out = [json.loads(l) for l in r.stdout.splitlines()]
    assert out[0]["source"] == "llm", out
    assert llm.stats()["titles"] == {"App crashes\ufffd on start": 1}
