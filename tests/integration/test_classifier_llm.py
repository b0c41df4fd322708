"""Classifier integration tests for a misbehaving LLM (real daemon, real broker,
fake LLM driven through its control endpoint): an outage opens the circuit
breaker and events are classified offline, a probe closes it again; 429 with
Retry-After is retried after the server's delay; an invalid (out-of-enum)
reply gets one repair turn, then the offline fallback; a server without
json_schema support is stepped down to json_object; a hanging server times
out; a malformed body is retried.
"""
import sys
import time
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


def sources(msgs):
    return [m["value"]["classification"]["source"] for m in sorted(msgs, key=lambda m: (
        m["value"]["issue"]["number"]))]


def test_classifier_llm_outage_falls_back_and_recovers(broker, topics, llm):
    raw = topics["KAFKA_TOPIC_RAW_ISSUES"]
    llm.control(mode="error500")
    d = h.classifier(broker.bootstrap, topics, llm=llm, env={
        "LLM_MAX_RETRIES": "1", "LLM_BREAKER_FAILURES": "3", "LLM_BREAKER_OPEN": "1500ms",
        "LLM_MAX_CONCURRENCY": "4"}).start()
    try:
        h.produce_many(broker.bootstrap, raw, [h.raw_event(i) for i in range(1, 11)])
        got = h.enriched(broker.bootstrap, topics, expect=10)
        assert len(got) == 10
        assert set(sources(got)) == {"offline"}
        for m in got:
            h.check_enriched(m)
        calls_during_outage = llm.stats()["chat_requests"]
        # the breaker stopped the hammering: far fewer calls than 10 x 2 attempts
        assert 3 <= calls_during_outage < 20
        m = h.metrics(d)
        assert m["dai_classifier_circuit_state"] in (1, 2)
        assert m['dai_classifier_llm_errors_total{kind="server_error"}'] >= 3
        assert m['dai_classifier_offline_fallbacks_total{reason="circuit_open"}'] >= 1
        assert "llm circuit opened" in d.logs()

        # the LLM comes back: after the open time one probe closes the breaker
        llm.control(mode="ok")

        def recovered():
            n = len(h.enriched(broker.bootstrap, topics)) + 1
            h.produce_many(broker.bootstrap, raw, [h.raw_event(100 + n)])
            last = h.enriched(broker.bootstrap, topics, expect=n)
            return any(x["value"]["classification"]["source"] == "llm" for x in last)
        daitest.wait_for(recovered, timeout=30, interval=0.5, what="classification by the LLM")
        daitest.wait_for(lambda: h.metric(d, "dai_classifier_circuit_state") == 0, timeout=10,
                         what="circuit closed")
        assert "llm circuit closed" in d.logs()
    finally:
        assert d.stop() == 0


def test_classifier_llm_429_honours_retry_after(broker, topics, llm):
    llm.control(fail_next=2, fail_mode="error429", retry_after=1)
    d = h.classifier(broker.bootstrap, topics, llm=llm,
                     env={"LLM_MAX_RETRIES": "3", "LLM_MAX_CONCURRENCY": "1"}).start()
    try:
        h.produce_many(broker.bootstrap, topics["KAFKA_TOPIC_RAW_ISSUES"], [h.raw_event(1)])
        got = h.enriched(broker.bootstrap, topics, expect=1)
        v = got[0]["value"]
        assert v["classification"]["source"] == "llm"
        assert v["processing_metadata"]["attempts"] == 3
        # two waits of at least Retry-After: 1 s each (the backoff alone is < 0.5 s)
        assert v["processing_metadata"]["processing_time_ms"] >= 2000
        assert llm.stats()["by_status"] == {"429": 2, "200": 1}
        assert h.metric(d, 'dai_classifier_llm_errors_total{kind="rate_limited"}') == 2
    finally:
        assert d.stop() == 0


def test_classifier_llm_invalid_reply_repair_then_fallback(broker, topics, llm):
    raw = topics["KAFKA_TOPIC_RAW_ISSUES"]
    llm.control(mode="repairable")
    d = h.classifier(broker.bootstrap, topics, llm=llm).start()
    try:
        h.produce_many(broker.bootstrap, raw, [h.raw_event(1)])
        v = h.enriched(broker.bootstrap, topics, expect=1)[0]["value"]
        # first reply out of the enum, the repair turn fixed it
        assert v["classification"]["source"] == "llm"
        assert v["processing_metadata"]["attempts"] == 2
        assert llm.stats()["repairs"] == 1

        llm.control(mode="out_of_enum")
        h.produce_many(broker.bootstrap, raw, [h.raw_event(2)])
        got = h.enriched(broker.bootstrap, topics, expect=2)
        v = next(m for m in got if m["value"]["issue"]["number"] == 2)["value"]
        assert v["classification"]["source"] == "offline"
        assert v["processing_metadata"]["attempts"] == 2  # the call and one repair, no more
        assert llm.stats()["repairs"] == 2
        m = h.metrics(d)
        assert m['dai_classifier_llm_errors_total{kind="invalid_reply"}'] == 3
        assert m['dai_classifier_offline_fallbacks_total{reason="invalid_reply"}'] == 1
        # invalid answers are not an outage
        assert m["dai_classifier_circuit_state"] == 0

        llm.control(mode="fenced")
        h.produce_many(broker.bootstrap, raw, [h.raw_event(3)])
        got = h.enriched(broker.bootstrap, topics, expect=3)
        v = next(m for m in got if m["value"]["issue"]["number"] == 3)["value"]
        assert v["classification"]["source"] == "llm"
        assert v["processing_metadata"]["attempts"] == 1
    finally:
        assert d.stop() == 0


def test_classifier_llm_without_json_schema_steps_down(broker, topics):
    llm = h.FakeLLM("--no-json-schema").start()
    d = h.classifier(broker.bootstrap, topics, llm=llm,
                     env={"LLM_MAX_CONCURRENCY": "1"}).start()
    try:
        h.produce_many(broker.bootstrap, topics["KAFKA_TOPIC_RAW_ISSUES"],
                       [h.raw_event(i) for i in range(1, 4)])
        got = h.enriched(broker.bootstrap, topics, expect=3)
        assert set(sources(got)) == {"llm"}
        st = llm.stats()
        # the first request walks down the ladder (bounded schema, schema
        # without bounds, json_object); every later one starts at json_object
        assert st["response_formats"]["json_schema"] == 2
        assert st["response_formats"]["json_object"] == 3
        logs = d.logs()
        assert logs.count("refused response_format") == 2
        assert "using json_schema without length bounds from now on" in logs
        assert "using json_object from now on" in logs
    finally:
        d.stop()
        llm.stop()


def test_classifier_llm_schema_bounds_refused_keeps_schema(broker, topics, llm):
    """A strict server that refuses maxLength/maxItems still gets a json_schema,
    one without the bounds, and never drops to json_object."""
    llm.control(no_schema_bounds=True)
    d = h.classifier(broker.bootstrap, topics, llm=llm,
                     env={"LLM_MAX_CONCURRENCY": "1"}).start()
    try:
        h.produce_many(broker.bootstrap, topics["KAFKA_TOPIC_RAW_ISSUES"],
                       [h.raw_event(i) for i in range(1, 4)])
        got = h.enriched(broker.bootstrap, topics, expect=3)
        assert set(sources(got)) == {"llm"}
        st = llm.stats()
        assert st["by_status"] == {"400": 1, "200": 3}
        assert st["response_formats"] == {"json_schema": 4}
        assert d.logs().count("refused response_format") == 1
    finally:
        assert d.stop() == 0


def test_classifier_llm_hang_times_out_and_malformed_is_retried(broker, topics, llm):
    raw = topics["KAFKA_TOPIC_RAW_ISSUES"]
    llm.control(mode="hang")
    d = h.classifier(broker.bootstrap, topics, llm=llm, env={
        "LLM_TIMEOUT": "400ms", "LLM_MAX_RETRIES": "1", "LLM_BREAKER_FAILURES": "100"}).start()
    try:
        t0 = time.monotonic()
        h.produce_many(broker.bootstrap, raw, [h.raw_event(1)])
        v = h.enriched(broker.bootstrap, topics, expect=1)[0]["value"]
        assert v["classification"]["source"] == "offline"
        assert v["processing_metadata"]["attempts"] == 2
        assert time.monotonic() - t0 < 20
        assert h.metric(d, 'dai_classifier_llm_errors_total{kind="timeout"}') == 2

        llm.control(mode="ok", fail_next=1, fail_mode="malformed")
        h.produce_many(broker.bootstrap, raw, [h.raw_event(2)])
        got = h.enriched(broker.bootstrap, topics, expect=2)
        v = next(m for m in got if m["value"]["issue"]["number"] == 2)["value"]
        assert v["classification"]["source"] == "llm"
        assert v["processing_metadata"]["attempts"] == 2
        assert h.metric(d, 'dai_classifier_llm_errors_total{kind="malformed"}') == 1
    finally:
        assert d.stop() == 0
