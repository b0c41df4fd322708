"""Durability tests for dispatchai-ingress against a real broker: nothing is ever
acknowledged (202 or 200 duplicate) that is not on the broker, exactly once.

- broker stopped: deliveries are answered 503 with Retry-After within the publish
  bound; once the broker is back, new deliveries are accepted and GitHub's
  redeliveries of the refused GUIDs are accepted or, if the first attempt landed
  late, answered duplicate — and every GUID is on the topic exactly once.
- SIGTERM during load: every delivery answered 202 is on the topic exactly once.
- fatal producer error (librdkafka's idempotent producer after a sequence
  desynchronisation, injected here): the producer is replaced in-process and the
  daemon keeps accepting; it does not stop.
"""
import collections
import concurrent.futures
import json
import signal
import threading
import time
import uuid

import daitest
from daitest import Daemon, consume, free_port, load_fixture, request, webhook_headers, wait_for

SECRET = "durability-secret"
PATH = "/webhook/github"


def start_ingress(bootstrap, topics, **env):
    port = free_port()
    e = {"GITHUB_WEBHOOK_SECRET": SECRET, "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
         "INGRESS_PORT": port, "HTTP_BIND": "127.0.0.1"}
    e.update(topics)
    e.update({k: str(v) for k, v in env.items()})
    return Daemon("ingress", port, env=e).start()


def post(d, body, guid, timeout=20):
    h = webhook_headers("issues", body, SECRET, delivery=guid)
    st, hdrs, data = request("POST", d.url + PATH, body, h, timeout=timeout)
    return st, hdrs, (json.loads(data) if data else None)


def guids_on_topic(bootstrap, topic, expect=None):
    msgs = consume(bootstrap, topic, expect=expect, timeout=60)
    return collections.Counter(m["headers"]["x-github-delivery"] for m in msgs)


def metric(d, name):
    st, _, text = request("GET", d.url + "/metrics")
    for line in text.decode().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_broker_outage_answers_503_and_loses_nothing_acknowledged(private_broker):
    """Two ingresses share one outage. `late` keeps unacknowledged messages for 5 minutes:
    they land once the broker is back, so GitHub's redeliveries are duplicates. `expiring`
    gives up on them after 3 s: they never land, so the redeliveries are published."""
    b = private_broker
    body = load_fixture("issues.opened.json")
    ingresses = {}
    for name, mto in (("late", 300000), ("expiring", 3000)):
        t = daitest.unique_topics(name)
        b.create_topics(t["KAFKA_TOPIC_RAW_ISSUES"])
        port = free_port()
        env = dict(t, GITHUB_WEBHOOK_SECRET=SECRET, KAFKA_BOOTSTRAP_SERVERS=b.bootstrap,
                   INGRESS_PORT=str(port), HTTP_BIND="127.0.0.1",
                   INGRESS_PUBLISH_TIMEOUT="1500ms", INGRESS_RETRY_AFTER="7")
        d = Daemon("ingress", port, env=env,
                   args=[f"--kafka.producer.message.timeout.ms={mto}"]).start()
        ingresses[name] = (d, t["KAFKA_TOPIC_RAW_ISSUES"], set(), [])
    try:
        for d, _, acked, _ in ingresses.values():
            g = str(uuid.uuid4())
            assert post(d, body, g)[0] == 202
            acked.add(g)

        b.stop()
        for d, _, _, refused in ingresses.values():
            for _ in range(3):
                g = str(uuid.uuid4())
                t0 = time.monotonic()
                st, h, resp = post(d, body, g)
                took = time.monotonic() - t0
                assert st == 503, resp
                assert h["retry-after"] == "7"
                assert resp["error"]["code"] == "publish_timeout"
                assert took < 3.0, took  # the bound, well under GitHub's 10 s
                refused.append(g)
            # A redelivery while the first attempt is pending is not published twice.
            assert post(d, body, refused[0])[0] == 503

        # kafka-local refuses a port that still has sockets in TIME_WAIT (left by the
        # broker closing our connections), so the restart may need a few tries.
        wait_for(b.start, timeout=150, interval=3, what="broker restart")
        for name, (d, topic, acked, refused) in ingresses.items():
            d.wait_ready(timeout=60)

            def accepted_again():
                g2 = str(uuid.uuid4())
                if post(d, body, g2)[0] == 202:
                    acked.add(g2)
                    return True
                return False
            wait_for(accepted_again, timeout=60, interval=0.5, what="202 after the restart")
            want = (200, "duplicate") if name == "late" else (202, "accepted")
            for g in refused:
                def settled():
                    st3, _, r3 = post(d, body, g)
                    return (st3, r3["status"]) if st3 in (200, 202) else None
                assert wait_for(settled, timeout=60, interval=0.5, what=f"redelivery {g}") == want
                acked.add(g)
            on_topic = guids_on_topic(b.bootstrap, topic, expect=len(acked))
            for g in acked:
                assert on_topic[g] == 1, (name, g, on_topic[g])
            assert max(on_topic.values()) == 1, on_topic.most_common(3)
            assert len(on_topic) == len(acked)
        assert metric(ingresses["late"][0], "dai_ingress_late_acks_total") == 3
        assert metric(ingresses["expiring"][0], "dai_ingress_late_acks_total") == 0
    finally:
        for d, _, _, _ in ingresses.values():
            assert d.stop() == 0, d.logs()[-3000:]


def test_sigterm_during_load_loses_no_acknowledged_delivery(broker, topics):
    topic = topics["KAFKA_TOPIC_RAW_ISSUES"]
    d = start_ingress(broker.bootstrap, topics, SHUTDOWN_TIMEOUT="8s")
    body = load_fixture("issues.edited.json")
    results = []
    lock = threading.Lock()
    stop = threading.Event()

    def client():
        while not stop.is_set():
            g = str(uuid.uuid4())
            try:
                st, _, _ = post(d, body, g, timeout=15)
            except OSError:
                st = None  # refused or reset once the daemon stops listening
            with lock:
                results.append((g, st))
            if st is None:
                return

    def acked_count():
        with lock:
            return sum(1 for _, s in results if s == 202)

    ex = concurrent.futures.ThreadPoolExecutor(8)
    futs = [ex.submit(client) for _ in range(8)]
    try:
        wait_for(lambda: acked_count() >= 200, timeout=60, what="load to build up")
        d.proc.send_signal(signal.SIGTERM)
        code = d.proc.wait(timeout=30)
    finally:
        stop.set()
        ex.shutdown(wait=True)
    for f in futs:
        f.result()
    d.stop()
    assert code == 0, d.logs()[-3000:]
    acked = {g for g, s in results if s == 202}
    assert len(acked) >= 200
    assert all(s in (202, 503, None) for _, s in results), collections.Counter(
        s for _, s in results)
    on_topic = guids_on_topic(broker.bootstrap, topic, expect=len(acked))
    missing = [g for g in acked if on_topic[g] != 1]
    assert not missing, f"{len(missing)} acknowledged deliveries not on the topic exactly once"
    assert max(on_topic.values()) == 1
    assert "stopped" in d.logs()


def test_fatal_producer_error_replaces_the_producer(broker, topics):
    # librdkafka raises the fatal error itself (rd_kafka_test_fatal_error) right
    # after the 20th acknowledgement, as it does after a broker restart that
    # desynchronises the idempotent producer's sequence numbers; 8 concurrent
    # clients keep deliveries in flight while it happens.
    topic = topics["KAFKA_TOPIC_RAW_ISSUES"]
    d = start_ingress(broker.bootstrap, topics, DAI_TEST_FATAL_AFTER_ACKS=20)
    body = load_fixture("issues.edited.json")
    during = [str(uuid.uuid4()) for _ in range(80)]
    after = [str(uuid.uuid4()) for _ in range(10)]
    try:
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            answers = dict(zip(during, ex.map(lambda g: post(d, body, g)[0], during)))
        assert set(answers.values()) <= {202, 503}, collections.Counter(answers.values())
        assert sum(1 for s in answers.values() if s == 202) >= 20

        def replaced():
            assert d.proc.poll() is None, f"ingress exited with {d.proc.returncode}:\n" + \
                d.logs()[-3000:]
            return metric(d, "dai_ingress_producer_restarts_total") == 1
        wait_for(replaced, timeout=30, what="the producer to be replaced")
        d.wait_ready(timeout=30)
        for g in after:
            st, _, _ = post(d, body, g)
            assert st == 202, (st, d.logs()[-3000:])
        assert metric(d, "dai_ingress_producer_restarts_total") == 1
    finally:
        code = d.stop()
    logs = d.logs()
    assert code == 0, logs[-3000:]
    assert logs.count("kafka fatal error, replacing the client") == 1, logs[-3000:]
    assert "OUT_OF_ORDER_SEQUENCE_NUMBER" in logs
    assert "producer replaced after a fatal error" in logs
    acked = [g for g in during if answers[g] == 202] + after
    on_topic = guids_on_topic(broker.bootstrap, topic, expect=len(acked))
    assert all(on_topic[g] == 1 for g in acked), on_topic
