"""Faults under load on a real three-node Kafka cluster (scripts/kafka-local --nodes 3: topics with
three replicas, min.insync.replicas=2, no unclean leader election).

Each test drives signed webhook deliveries through the real daemons, records every delivery that
got a 202, injects a fault, heals it, and then reads issues.enriched with read_committed and
checks GUID by GUID: every acknowledged delivery exactly once, nothing else. The figures of each
run (acknowledged, lost, duplicated, 503s, pauses) go to the guarantees report."""
import json
import subprocess
import time

import pytest

import daitest
from stack import SECRET, WRITE_TOKEN, Stack, issue_payload, record, run_with_fault
import harness  # noqa: E402  (on the path once stack is imported)


@pytest.fixture(scope="module")
def cluster():
    c = daitest.Cluster(nodes=3)
    try:
        c.start()
    except Exception:
        c.cleanup()
        raise
    yield c
    c.cleanup()


@pytest.fixture
def healthy(cluster):
    """The cluster with all three nodes running and every partition fully in sync (a test that
    killed a node leaves it to the next one to bring back)."""
    cluster.start()

    def in_sync():
        md = cluster.metadata()
        return md and all(p["leader"] and len(p["isr"]) == 3 for p in md.values())
    daitest.wait_for(in_sync, timeout=90, interval=0.5, what="every partition in sync on 3 nodes")
    return cluster


def refused(gen, after=0.0):
    return sum(1 for t_sent, _, st in list(gen.answers) if st == 503 and t_sent >= after)


def test_leader_kill9_loses_nothing(healthy, topics):
    stack = Stack(healthy, topics).start()
    raw = topics["KAFKA_TOPIC_RAW_ISSUES"]
    figures = {}
    try:
        def inject(gen):
            node = healthy.leader(raw, 0)
            assert node, "issues.raw partition 0 has no leader"
            t0 = time.monotonic()
            healthy.kill(node)
            daitest.wait_for(lambda: healthy.leader(raw, 0) not in (None, node), timeout=30,
                             interval=0.1, what="a new leader for issues.raw/0")
            figures["failover_s"] = round(time.monotonic() - t0, 2)
            # Deliveries keep being acknowledged on the two remaining replicas.
            n = len(gen.accepted)
            daitest.wait_for(lambda: len(gen.accepted) >= n + 200, timeout=60,
                             what="200 more acknowledged with one node down")
            figures["refused_503"] = refused(gen, after=t0)
            healthy.restart(node)
            return 1
        run_with_fault(stack, "cluster_leader_kill9", inject, total=1500, rate=250,
                       extra=figures)
    finally:
        codes = stack.stop()
    assert all(c == 0 for c in codes.values()), codes


def test_two_brokers_down_refuses_then_recovers(healthy, topics):
    """Below min.insync.replicas nothing may be acknowledged: the ingress answers 503 with
    Retry-After until a broker is back, then recovers by itself (no daemon restart)."""
    stack = Stack(healthy, topics).start()
    raw = topics["KAFKA_TOPIC_RAW_ISSUES"]
    figures = {}
    try:
        def inject(gen):
            first = healthy.leader(raw, 0)
            second = next(k for k in (1, 2, 3) if k != first)
            healthy.kill(first)
            healthy.kill(second)
            t_down = time.monotonic()
            daitest.wait_for(lambda: refused(gen, after=t_down) > 0, timeout=90,
                             what="a 503 with two of three brokers down")
            t_first = min(t for t, _, st in list(gen.answers) if st == 503 and t >= t_down)
            # A 503 during the outage carries Retry-After (asked directly, to see the headers).
            status, headers, _ = outage_answer(stack)
            assert status == 503 and headers.get("retry-after"), (status, headers)
            daitest.wait_for(lambda: refused(gen, after=t_first) >= 10, timeout=120,
                             what="ten 503s during the outage")
            t_heal = time.monotonic()
            acked_in_outage = [a for a in list(gen.answers)
                               if a[0] > t_first and a[1] < t_heal and a[2] == 202]
            assert not acked_in_outage, f"{len(acked_in_outage)} deliveries acknowledged " \
                                        "below min.insync.replicas"
            figures["refused_503"] = refused(gen, after=t_down)
            figures["outage_s"] = round(t_heal - t_down, 1)
            healthy.restart(first)
            daitest.wait_for(lambda: any(st == 202 for t, _, st in list(gen.answers)
                                         if t > t_heal), timeout=120,
                             what="a 202 again once a second broker is back")
            figures["recovery_s"] = round(min(a[1] for a in list(gen.answers)
                                              if a[0] > t_heal and a[2] == 202) - t_heal, 1)
            healthy.restart(second)
            return 2
        run_with_fault(stack, "cluster_two_brokers_down", inject, total=2000, rate=200,
                       extra=figures)
    finally:
        codes = stack.stop()
    assert all(c == 0 for c in codes.values()), codes


def outage_answer(stack):
    body = json.dumps(issue_payload(4243)).encode()
    return daitest.request("POST", f"{stack.ingress.url}/webhook/github", body,
                           daitest.webhook_headers("issues", body, SECRET), timeout=60)


def longest_pause_ms(stack, t0, t1):
    """Longest stretch without a new issues.enriched record (their produce timestamps) between
    wall-clock t0 and t1, the window's ends included: a window with no record at all is one
    pause as long as the window."""
    ts = sorted(m["ts"] for m in stack.enriched() if m["ts"] and t0 * 1000 <= m["ts"] <= t1 * 1000)
    edges = [t0 * 1000, *ts, t1 * 1000]
    return round(max(b - a for a, b in zip(edges, edges[1:])))


@pytest.mark.parametrize("assignor", ["range,roundrobin", "cooperative-sticky"])
def test_classifier_group_rolling_restart_and_kill9(healthy, topics, assignor):
    """Three classifiers in one group: a rolling restart (SIGTERM, one after another) and a
    kill -9 of one mid-transaction keep exactly-once; the longest pause in the enriched output
    during each rebalance is recorded for the assignor."""
    args = [f"--kafka.consumer.partition.assignment.strategy={assignor}"]
    stack = Stack(healthy, topics)
    stack.llm.start()
    healthy.create_topics(*topics.values())
    stack.ingress = stack.make_ingress().start()
    stack.gateway = stack.make_gateway().start()

    def make(i, port=None):
        return harness.classifier(healthy.bootstrap, topics, llm=stack.llm,
                                  txn_id=f"{stack.txn_id}-{i}", port=port, args=args,
                                  env={"CLASSIFIER_GROUP_ID": stack.group})
    classifiers = [make(i).start() for i in range(3)]
    stack.classifier = classifiers[0]
    pauses = {}
    try:
        def inject(gen):
            for i in range(3):  # rolling restart
                t0 = time.time()
                port = classifiers[i].port
                assert classifiers[i].stop() == 0
                classifiers[i] = make(i, port=port).start()
                n = len(gen.accepted)
                daitest.wait_for(lambda: len(gen.accepted) >= n + 100, timeout=60)
                pauses[f"rolling_{i}"] = (t0, time.time())
            t0 = time.time()
            port = classifiers[1].port
            classifiers[1].kill9()
            classifiers[1] = make(1, port=port).start()
            n = len(gen.accepted)
            daitest.wait_for(lambda: len(gen.accepted) >= n + 100, timeout=60)
            pauses["kill9"] = (t0, time.time())
            return 4
        run_with_fault(stack, f"cluster_classifier_group[{assignor}]", inject, total=3000,
                       rate=200)
        measured = {k: longest_pause_ms(stack, *v) for k, v in pauses.items()}
        record(f"cluster_rebalance_pause_ms[{assignor}]", **measured)
        print(f"\nlongest enriched pause per rebalance ({assignor}): {measured}")
    finally:
        for c in classifiers:
            c.stop()
        stack.classifier = None
        stack.stop()


def test_two_gateways_converge(healthy, topics):
    """Two gateways on one cluster: a correction made through one shows on the other, one of
    them restarted mid-run catches up, and both end with identical stats and issues."""
    stack = Stack(healthy, topics).start()
    gws = [stack.gateway, stack.make_gateway().start()]
    try:
        def inject(gen):
            daitest.wait_for(lambda: stats(gws[1])["total"] >= 50, timeout=60,
                             what="the second gateway to see 50 issues")
            port = gws[1].port
            assert gws[1].stop() == 0
            n = len(gen.accepted)
            daitest.wait_for(lambda: len(gen.accepted) >= n + 200, timeout=60)
            gws[1] = stack.make_gateway(port=port).start()
            return 1
        gen = run_with_fault(stack, "cluster_two_gateways", inject, total=1200, rate=200)
        number = 100000 + 7  # an issue the load generator sent
        st, _, body = daitest.request(
            "POST", f"{stack.gateway.url}/api/issues/testorg/testrepo/{number}/correction",
            b'{"category": "question", "note": "cluster test"}',
            {"Authorization": f"Bearer {WRITE_TOKEN}",
             "Content-Type": "application/json"}, timeout=30)
        assert st == 202, body

        def corrected(g):
            st, body = daitest.get_json(f"{g.url}/api/issues/testorg/testrepo/{number}")
            return st == 200 and body["latest"]["classification"]["source"] == "human"
        daitest.wait_for(lambda: corrected(gws[1]), timeout=30,
                         what="the correction on the other gateway")
        keys = {(m["value"]["repository"]["full_name"], m["value"]["issue"]["number"])
                for m in stack.enriched()}
        for g in gws:
            daitest.wait_for(lambda: stats(g)["total"] >= len(keys), timeout=60,
                             what="every issue applied")
        daitest.wait_for(lambda: corrected(gws[0]), timeout=30, what="the correction here too")
        assert stats(gws[0]) == stats(gws[1])
        assert all_issues(gws[0]) == all_issues(gws[1])
        assert len(gen.accepted) > 0
    finally:
        gws[1].stop()
        stack.stop()


def stats(g):
    st, body = daitest.get_json(f"{g.url}/api/stats")
    assert st == 200, body
    return body


def all_issues(g):
    """Every issue's latest state, by key, following next_cursor."""
    out, cursor = {}, None
    while True:
        q = "limit=500" + (f"&cursor={cursor}" if cursor else "")
        st, body = daitest.get_json(f"{g.url}/api/issues?{q}")
        assert st == 200, body
        for it in body["items"]:
            out[(it["repository"]["full_name"], it["issue"]["number"])] = it
        cursor = body.get("next_cursor")
        if not cursor:
            return out


def test_partitions_added_at_run_time(healthy, topics):
    """issues.raw and issues.enriched grow from 3 to 6 partitions while deliveries flow: the
    classifiers' group takes the new raw partitions over (read from their beginning), the gateway
    assigns the new enriched ones, and every acknowledged delivery is there exactly once."""
    raw, enr = topics["KAFKA_TOPIC_RAW_ISSUES"], topics["KAFKA_TOPIC_ENRICHED_ISSUES"]
    stack = Stack(healthy, topics).start()
    extra = stack.make_classifier().start()  # two members share the partitions
    on_new = []
    try:
        def inject(gen):
            for t in (raw, enr):
                healthy.add_partitions(t, 6)
            daitest.wait_for(lambda: all((t, 5) in healthy.metadata() for t in (raw, enr)),
                             timeout=30, what="six partitions in the metadata")
            # Deliveries written straight onto the new partitions (the ingress's producer only
            # learns the new count at its own metadata refresh).
            for p in (3, 4, 5):
                n = 900000 + p
                ev = json.dumps({**raw_event_for(stack, n)}).encode()
                subprocess.run(["kcat", "-P", "-b", healthy.bootstrap, "-t", raw, "-p", str(p),
                                "-k", f"testorg/testrepo:issue:{n}", "-X", "acks=all"],
                               input=ev, check=True, timeout=30)
                on_new.append(n)
            return 1
        run_with_fault(stack, "cluster_partitions_3_to_6", inject, total=1200, rate=200)

        def classified_on_new():
            got = {m["value"]["issue"]["number"] for m in stack.enriched()}
            return set(on_new) <= got
        daitest.wait_for(classified_on_new, timeout=90, interval=1.0,
                         what="the events on the new issues.raw partitions classified")
        ids = [m["value"]["delivery_id"] for m in stack.enriched()]
        assert all(ids.count(f"new-partition-{n}") == 1 for n in on_new), "not exactly once"
        keys = {(m["value"]["repository"]["full_name"], m["value"]["issue"]["number"])
                for m in stack.enriched()}
        daitest.wait_for(lambda: stats(stack.gateway)["total"] >= len(keys), timeout=60,
                         what="the gateway to apply every event")
        assert stats(stack.gateway)["total"] == len(keys)
    finally:
        extra.stop()
        stack.stop()


def raw_event_for(stack, number):
    """A raw event as the ingress would write it for an issues.opened delivery of `number`
    (taken from what the ingress wrote for the load, with a new number and delivery id)."""
    sample = next(m["value"] for m in stack.raw() if m["value"].get("event_type") == "issue")
    ev = json.loads(json.dumps(sample))
    ev["delivery_id"] = f"new-partition-{number}"
    ev["issue"]["number"] = number
    ev["issue"]["id"] = 4_000_000_000 + number
    ev["issue"]["title"] = f"Crash #{number} written to a partition added at run time"
    return ev
