"""Partitions added to the enriched topic while the gateway runs are read too:
the gateway follows the topic's metadata and assigns new partitions from their
beginning, so an event produced to a partition that did not exist at start
reaches the REST API (issue 14, item 4)."""
import json
import subprocess

import daitest
from test_gateway_support import enriched, gateway, get, key_of


def produce_to(broker, topic, partition, ev):
    """One event onto an explicit partition (kcat -p), acknowledged by the broker."""
    subprocess.run(["kcat", "-P", "-b", broker.bootstrap, "-t", topic, "-p", str(partition),
                    "-k", key_of(ev), "-X", "acks=all"],
                   input=json.dumps(ev).encode(), check=True, timeout=30)


def numbers(gw):
    st, _, body = get(gw, "/api/issues?limit=100")
    assert st == 200, body
    return {item["issue"]["number"] for item in body["items"] if "issue" in item}


def test_events_on_partitions_added_after_start_reach_the_rest_api(broker, topics):
    t = topics["KAFKA_TOPIC_ENRICHED_ISSUES"]
    broker.create_topics(t, partitions=1)
    produce_to(broker, t, 0, enriched(number=1))
    gw = gateway(broker, topics).start()
    try:
        daitest.wait_for(lambda: numbers(gw) == {1}, what="the event on partition 0")

        broker.add_partitions(t, 3)
        produce_to(broker, t, 2, enriched(number=2, title="On a partition added at run time"))
        produce_to(broker, t, 1, enriched(number=3))
        on = {m["value"]["issue"]["number"]: m["partition"]
              for m in daitest.consume(broker.bootstrap, t, expect=3)}
        assert on == {1: 0, 2: 2, 3: 1}

        # Both new partitions are read from their beginning.
        daitest.wait_for(lambda: numbers(gw) == {1, 2, 3}, timeout=60,
                         what="the events on the added partitions in /api/issues")
        st, _, item = get(gw, "/api/issues/acme/widgets/2")
        assert st == 200 and item["key"] == "acme/widgets:issue:2"
        assert "kafka partitions added" in gw.logs()
        # The gateway stays ready and keeps following partition 0 as well.
        produce_to(broker, t, 0, enriched(number=4))
        daitest.wait_for(lambda: 4 in numbers(gw), what="a later event on partition 0")
        assert daitest.get_json(gw.url + "/ready")[0] == 200
    finally:
        assert gw.stop() == 0
