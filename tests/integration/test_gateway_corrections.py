"""Human corrections end to end: POST to one gateway, the event lands in
issues.enriched (source human, corrected_by the token's name), a second gateway
instance and WebSocket clients of both see it, and a later automatic
classification changes the issue's state but not the human classification."""
import asyncio
import json
import re

import websockets

import daitest
from test_gateway_support import (WRITE, READ, enriched, ensure_topic, gateway, get, post,
                                  produce_events, recv_json, recv_until, run, ws_url)


def test_correction_round_trip_across_instances_and_websockets(broker, topics):
    t = topics["KAFKA_TOPIC_ENRICHED_ISSUES"]
    ensure_topic(broker, t)
    produce_events(broker.bootstrap, t, [
        enriched(number=42, category="bug", priority="high", title="Crash on save",
                 processed_ms=1_767_000_000_000),
        enriched(number=43, category="question", processed_ms=1_767_000_001_000)])
    a = gateway(broker, topics).start()
    b = gateway(broker, topics).start()
    try:
        async def go():
            # A client of B subscribed to security only, one of A to everything.
            wb = await websockets.connect(ws_url(b, "categories=security"), extra_headers=READ)
            wa = await websockets.connect(ws_url(a), extra_headers=READ)
            await recv_json(wb)
            await recv_json(wa)

            st, _, body = post(a, "/api/issues/acme/widgets/42/correction",
                               {"category": "security", "priority": "critical",
                                "note": "remote code execution"})
            assert st == 202, body
            assert body["status"] == "accepted" and body["key"] == "acme/widgets:issue:42"
            assert body["classification"]["source"] == "human"
            assert body["classification"]["corrected_by"] == "writer"
            assert isinstance(body["offset"], int) and isinstance(body["partition"], int)

            for ws in (wb, wa):
                m, _ = await recv_until(ws, lambda m: m["type"] == "issue_update")
                c = m["data"]["classification"]
                assert (c["category"], c["priority"], c["source"], c["corrected_by"],
                        c["note"]) == ("security", "critical", "human", "writer",
                                       "remote code execution")
                assert m["data"]["issue"]["title"] == "Crash on save"

            for g in (a, b):
                st, _, d = get(g, "/api/issues/acme/widgets/42")
                assert d["human_override"] is True
                assert d["latest"]["classification"]["category"] == "security"
                assert d["history"][-1]["source"] == "human"
                assert d["history"][-1]["corrected_by"] == "writer"

            # The classifier re-classifies later (e.g. after an edit and close):
            # the state applies, the human classification stays.
            produce_events(broker.bootstrap, t, [
                enriched(number=42, category="bug", priority="low", state="closed",
                         action="closed", title="Crash on save (fixed)",
                         processed_ms=1_767_000_900_000)])
            m, _ = await recv_until(wb, lambda m: m["type"] == "issue_update")
            assert m["data"]["issue"]["state"] == "closed"
            assert m["data"]["classification"]["category"] == "security"
            assert m["data"]["classification"]["source"] == "human"
            for g in (a, b):
                st, _, d = get(g, "/api/issues/acme/widgets/42")
                assert d["latest"]["issue"]["state"] == "closed"
                assert d["latest"]["issue"]["title"] == "Crash on save (fixed)"
                assert d["latest"]["classification"]["category"] == "security"
                assert d["history"][-1]["applied"] is False
                assert d["history"][-1]["category"] == "bug"
                assert get(g, "/api/stats")[2]["by_source"]["human"] == 1
                # Filters use the effective (human) classification.
                items = get(g, "/api/issues?category=security")[2]["items"]
                assert [i["issue"]["number"] for i in items] == [42]
            await wa.close()
            await wb.close()
        run(go())
    finally:
        assert a.stop() == 0
        assert b.stop() == 0

    # The event in the topic is a valid enriched event with the human fields,
    # keyed like every other event of the issue.
    msgs = daitest.consume(broker.bootstrap, t, expect=4)
    human = [m for m in msgs if m["value"]["classification"]["source"] == "human"]
    assert len(human) == 1
    m = human[0]
    assert m["key"] == "acme/widgets:issue:42"
    assert m["headers"]["content-type"] == "application/json"
    assert m["headers"]["schema-version"] == "1"
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                        m["headers"]["correlation-id"])
    assert m["value"]["processing_metadata"]["model_version"] == "human"
    assert m["value"]["delivery_id"].startswith("correction-")
    same_partition = {x["partition"] for x in msgs if x["key"] == "acme/widgets:issue:42"}
    assert len(same_partition) == 1

    # A restarted gateway rebuilds the same rule from the topic alone.
    c = gateway(broker, topics).start()
    try:
        d = get(c, "/api/issues/acme/widgets/42")[2]
        assert d["latest"]["classification"]["category"] == "security"
        assert d["latest"]["issue"]["state"] == "closed"
        assert d["human_override"] is True
    finally:
        c.stop()


def test_correction_fails_cleanly_when_the_broker_is_gone(private_broker, topics):
    t = topics["KAFKA_TOPIC_ENRICHED_ISSUES"]
    ensure_topic(private_broker, t)
    produce_events(private_broker.bootstrap, t, [enriched(number=1)])
    g = gateway(private_broker, topics, env={"GATEWAY_CORRECTION_TIMEOUT": "2s"}).start()
    try:
        private_broker.stop()
        st, h, body = post(g, "/api/issues/acme/widgets/1/correction", {"category": "question"})
        assert st == 503, body
        assert body["error"]["code"] == "unavailable" and h["retry-after"]
        # Reads keep working from memory.
        assert get(g, "/api/issues/acme/widgets/1")[0] == 200
    finally:
        assert g.stop() == 0


def test_correction_the_broker_can_never_take_is_413_not_503(broker, topics):
    # librdkafka's smallest message.max.bytes (1000) is below any enriched
    # event: retrying cannot help, so no 503 (which invites endless retries).
    t = topics["KAFKA_TOPIC_ENRICHED_ISSUES"]
    ensure_topic(broker, t)
    produce_events(broker.bootstrap, t, [enriched(number=7, title="Crash on save")])
    g = gateway(broker, topics, args=["--kafka.producer.message.max.bytes=1000"]).start()
    try:
        def loaded():
            return get(g, "/api/issues/acme/widgets/7")[0] == 200
        daitest.wait_for(loaded, timeout=20, what="the issue in the gateway")
        st, h, body = post(g, "/api/issues/acme/widgets/7/correction", {"category": "question"})
        assert st == 413, body
        assert body["error"]["code"] == "correction_too_large"
        assert "retry-after" not in h
    finally:
        assert g.stop() == 0
