"""Classifier delivery guarantees against the real broker: kill -9 in the
middle of a stream and a restart leave a read_committed reader with each
input exactly once and per-key order intact; two classifier processes in one
group share the partitions and hand them over without loss or duplicates;
SIGTERM finishes in-flight LLM calls, commits and leaves the group.
"""
import collections
import signal
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fake_llm"))
import harness as h  # noqa: E402
import daitest  # noqa: E402


@pytest.fixture
def llm():
    f = h.FakeLLM("--latency-ms", "30").start()
    yield f
    f.stop()


def stream(n_issues, first=1):
    """Each issue opened then labeled: 2 events per key, in this order."""
    out = []
    for i in range(first, first + n_issues):
        out.append(h.raw_event(i, title=f"Crash number {i} in the exporter"))
        out.append(h.raw_event(i, action="labeled", title=f"Crash number {i} in the exporter",
                               labels=["bug"]))
    return out


def assert_exactly_once(got, sent):
    ids = collections.Counter(m["value"]["delivery_id"] for m in got)
    dup = {k: c for k, c in ids.items() if c > 1}
    assert not dup, f"duplicated outputs: {list(dup.items())[:5]}"
    assert set(ids) == {ev["delivery_id"] for _, ev in sent}, "lost outputs"
    # per key, outputs keep the input order (opened before labeled)
    per_key = collections.defaultdict(list)
    for m in sorted(got, key=lambda m: (m["partition"], m["offset"])):
        per_key[m["key"]].append(m["value"]["action"])
    for key, actions in per_key.items():
        assert actions == ["opened", "labeled"], (key, actions)


def settled(d, n_parts=3):
    """The daemon has written and committed everything it consumed."""
    m = h.metrics(d)
    lags = [v for k, v in m.items() if k.startswith("dai_classifier_consumer_lag{")]
    return len(lags) == n_parts and all(v == 0 for v in lags) and \
        m.get("dai_classifier_buffered_events", 1) == 0


@pytest.fixture
def slow_llm():
    f = h.FakeLLM("--latency-ms", "100").start()
    yield f
    f.stop()


def test_classifier_kill9_mid_stream_exactly_once(broker, topics, slow_llm):
    llm = slow_llm
    sent = stream(200)
    txn = group = "cls-kill9-" + topics["KAFKA_TOPIC_RAW_ISSUES"].split(".")[0]
    # 200 calls at 100 ms, 4 at a time: ~5 s of work, time enough to kill mid-way
    env = {"LLM_MAX_CONCURRENCY": "4", "CLASSIFIER_TXN_INTERVAL": "200ms"}
    d = h.classifier(broker.bootstrap, topics, llm=llm, txn_id=txn, group=group,
                     env=env).start()
    h.produce_many(broker.bootstrap, topics["KAFKA_TOPIC_RAW_ISSUES"], sent)
    # kill it while it is writing: some transactions committed, one open
    daitest.wait_for(lambda: len(h.enriched(broker.bootstrap, topics,
                                            read_committed=False)) >= 60,
                     timeout=60, interval=0.1, what="the first outputs")
    d.kill9()
    at_kill = len(h.enriched(broker.bootstrap, topics))
    assert at_kill < len(sent), "the stream finished before the kill; nothing was tested"

    d2 = h.classifier(broker.bootstrap, topics, llm=llm, txn_id=txn, group=group, env=env,
                      port=d.port).start()
    try:
        got = h.enriched(broker.bootstrap, topics, expect=len(sent), timeout=120)
        daitest.wait_for(lambda: settled(d2), timeout=60, what="the restarted daemon to settle")
        got = h.enriched(broker.bootstrap, topics)
        assert len(got) == len(sent)
        assert_exactly_once(got, sent)
        for m in got:
            h.check_enriched(m)
        # each issue went to the LLM at most twice (once more if its first
        # answer died with the open transaction), never once per event
        titles = llm.stats()["titles"]
        assert len(titles) == 200 and max(titles.values()) <= 2
        uncommitted = len(h.enriched(broker.bootstrap, topics, read_committed=False))
        print(f"kill -9 after {at_kill} committed; read_uncommitted sees {uncommitted}")
    finally:
        assert d2.stop() == 0


def test_classifier_two_processes_share_the_load(broker, topics, llm):
    raw = topics["KAFKA_TOPIC_RAW_ISSUES"]
    group = "cls-shared-" + raw.split(".")[0]
    a = h.classifier(broker.bootstrap, topics, llm=llm, group=group)
    b = h.classifier(broker.bootstrap, topics, llm=llm, group=group)
    a.start()
    b.start()
    try:
        def split():
            pa = {k for k in h.metrics(a) if k.startswith("dai_classifier_consumer_lag{")}
            pb = {k for k in h.metrics(b) if k.startswith("dai_classifier_consumer_lag{")}
            return pa and pb and not (pa & pb) and len(pa | pb) == 3
        daitest.wait_for(split, timeout=60, interval=0.3, what="both processes assigned")

        sent = stream(150)
        h.produce_many(broker.bootstrap, raw, sent)
        got = h.enriched(broker.bootstrap, topics, expect=len(sent), timeout=90)
        assert_exactly_once(got, sent)
        ca = h.metric(a, "dai_classifier_consumed_total")
        cb = h.metric(b, "dai_classifier_consumed_total")
        assert ca > 0 and cb > 0 and ca + cb == len(sent), (ca, cb)

        # one leaves: the other takes every partition over, nothing lost or doubled
        assert a.stop() == 0
        more = stream(50, first=1000)
        h.produce_many(broker.bootstrap, raw, more)
        got = h.enriched(broker.bootstrap, topics, expect=len(sent) + len(more), timeout=90)
        daitest.wait_for(lambda: settled(b), timeout=60, what="the survivor to settle")
        got = h.enriched(broker.bootstrap, topics)
        assert_exactly_once(got, sent + more)
        assert h.metric(b, "dai_classifier_consumed_total") == cb + len(more)
    finally:
        a.stop()
        assert b.stop() == 0


def test_classifier_instances_hold_only_their_partitions_keys(broker, topics, llm):
    """Raw and enriched have the same partition count: each instance reads back
    and holds only the keys of its own partitions; after one leaves, the
    survivor reads the others back and holds every key, output exactly once."""
    raw = topics["KAFKA_TOPIC_RAW_ISSUES"]
    group = "cls-owned-" + raw.split(".")[0]
    a = h.classifier(broker.bootstrap, topics, llm=llm, group=group).start()
    b = h.classifier(broker.bootstrap, topics, llm=llm, group=group).start()

    def parts(d):
        return {int(k.split('"')[1]) for k in h.metrics(d)
                if k.startswith("dai_classifier_consumer_lag{")}
    try:
        daitest.wait_for(lambda: parts(a) and parts(b) and not (parts(a) & parts(b))
                         and len(parts(a) | parts(b)) == 3,
                         timeout=60, interval=0.3, what="both processes assigned")
        sent = stream(150)
        h.produce_many(broker.bootstrap, raw, sent)
        got = h.enriched(broker.bootstrap, topics, expect=len(sent), timeout=90)
        assert_exactly_once(got, sent)
        pa, pb = parts(a), parts(b)
        daitest.wait_for(lambda: settled(a, len(pa)) and settled(b, len(pb)), timeout=60,
                         what="both to settle")
        keys_in = collections.defaultdict(set)
        for m in got:
            keys_in[m["partition"]].add(m["key"])
        want_a = sum(len(keys_in[p]) for p in pa)
        want_b = sum(len(keys_in[p]) for p in pb)
        assert want_a > 0 and want_b > 0 and want_a + want_b == 150
        assert h.metric(a, "dai_classifier_state_keys") == want_a
        assert h.metric(b, "dai_classifier_state_keys") == want_b

        # a leaves: b reads a's partitions back before their first event. The
        # eager rebalance revokes b's own partitions too and hands them straight
        # back: those are not read again from the start.
        read_before = h.metric(b, "dai_classifier_state_records_read_total")
        recs_a = sum(1 for m in got if m["partition"] in pa)
        assert a.stop() == 0
        more = stream(50, first=1000)
        h.produce_many(broker.bootstrap, raw, more)
        h.enriched(broker.bootstrap, topics, expect=len(sent) + len(more), timeout=90)
        daitest.wait_for(lambda: settled(b), timeout=60, what="the survivor to settle")
        got = h.enriched(broker.bootstrap, topics)
        assert_exactly_once(got, sent + more)
        assert h.metric(b, "dai_classifier_state_keys") == 200
        read = h.metric(b, "dai_classifier_state_records_read_total") - read_before
        assert recs_a <= read < len(sent) + len(more), (read, recs_a)
        # the unchanged issues taken over were not sent to the LLM again
        assert max(llm.stats()["titles"].values()) == 1
        mb = h.metrics(b)
        n = mb.get("dai_classifier_takeover_seconds_count", 0)
        assert n >= 2, mb
        print(f"takeover: {n:.0f} assignments, mean "
              f"{mb['dai_classifier_takeover_seconds_sum'] / n * 1000:.1f} ms")
    finally:
        a.stop()
        assert b.stop() == 0


def test_classifier_two_instances_same_host_default_transactional_id(broker, topics, llm):
    """`docker compose up --scale classifier=2`: one hostname, one environment,
    no CLASSIFIER_TRANSACTIONAL_ID. Both instances must keep working (no
    fencing each other) and the output stays exactly once."""
    raw = topics["KAFKA_TOPIC_RAW_ISSUES"]
    group = "cls-scaled-" + raw.split(".")[0]
    env = {"CLASSIFIER_TRANSACTIONAL_ID": ""}
    a = h.classifier(broker.bootstrap, topics, llm=llm, group=group, env=env)
    b = h.classifier(broker.bootstrap, topics, llm=llm, group=group, env=env)
    a.start()
    b.start()
    try:
        def split():
            pa = {k for k in h.metrics(a) if k.startswith("dai_classifier_consumer_lag{")}
            pb = {k for k in h.metrics(b) if k.startswith("dai_classifier_consumer_lag{")}
            return pa and pb and not (pa & pb) and len(pa | pb) == 3
        daitest.wait_for(split, timeout=60, interval=0.3, what="both instances assigned")

        sent = stream(150)
        h.produce_many(broker.bootstrap, raw, sent)
        got = h.enriched(broker.bootstrap, topics, expect=len(sent), timeout=90)
        daitest.wait_for(lambda: settled(a, 1) or settled(a, 2), timeout=60, what="a settled")
        daitest.wait_for(lambda: settled(b, 1) or settled(b, 2), timeout=60, what="b settled")
        got = h.enriched(broker.bootstrap, topics)
        assert_exactly_once(got, sent)
        ca = h.metric(a, "dai_classifier_consumed_total")
        cb = h.metric(b, "dai_classifier_consumed_total")
        assert ca > 0 and cb > 0 and ca + cb == len(sent), (ca, cb)
        assert h.metric(a, 'dai_classifier_transactions_total{outcome="commit"}') > 0
        assert h.metric(b, 'dai_classifier_transactions_total{outcome="commit"}') > 0
        # two distinct default ids, both derived from the same hostname
        ids = [line.split("transactional_id=")[1].split()[0]
               for d in (a, b) for line in d.logs().splitlines()
               if "classifier consuming" in line]
        assert len(ids) == 2 and ids[0] != ids[1], ids
        assert all(i.startswith("dispatchai-classifier-") for i in ids), ids
        assert a.proc.poll() is None and b.proc.poll() is None
    finally:
        code_a = a.stop()
        code_b = b.stop()
    assert (code_a, code_b) == (0, 0), a.logs()[-3000:] + b.logs()[-3000:]


def test_classifier_sigterm_finishes_in_flight_calls(broker, topics):
    slow = h.FakeLLM("--latency-ms", "1500").start()
    txn = group = "cls-term-" + topics["KAFKA_TOPIC_RAW_ISSUES"].split(".")[0]
    d = h.classifier(broker.bootstrap, topics, llm=slow, txn_id=txn, group=group).start()
    try:
        sent = [h.raw_event(i) for i in range(1, 6)]
        h.produce_many(broker.bootstrap, topics["KAFKA_TOPIC_RAW_ISSUES"], sent)
        daitest.wait_for(lambda: h.metric(d, "dai_classifier_llm_in_flight") == 5,
                         timeout=30, what="five calls in flight")
        t0 = time.monotonic()
        assert d.stop(sig=signal.SIGTERM) == 0
        assert time.monotonic() - t0 < 10
        got = h.enriched(broker.bootstrap, topics)
        assert len(got) == 5, "in-flight calls are finished and committed before exit"
        assert {m["value"]["classification"]["source"] for m in got} == {"llm"}
        assert "stopping: drained, 0 events left" in d.logs()

        # a restart finds nothing left to do and writes nothing twice
        d2 = h.classifier(broker.bootstrap, topics, llm=slow, txn_id=txn, group=group).start()
        daitest.wait_for(lambda: settled(d2), timeout=60, what="restart settled")
        assert len(h.enriched(broker.bootstrap, topics)) == 5
        assert slow.stats()["chat_requests"] == 5
        assert d2.stop() == 0
    finally:
        d.stop()
        slow.stop()


def test_cooperative_increment_keeps_open_progress_of_kept_partitions(broker, topics):
    """With the cooperative assignor a member that stays gets only an increment when another
    leaves, while its own partitions may have progress in its open transaction. That progress
    must be committed with the transaction: it used to be reset to the group's older offsets
    (so the transaction committed the outputs without their input offsets) and the next owner
    ran those records again."""
    raw = topics["KAFKA_TOPIC_RAW_ISSUES"]
    group = "cls-coop-" + raw.split(".")[0]
    args = ["--kafka.consumer.partition.assignment.strategy=cooperative-sticky"]
    # First every partition gets a committed offset (the reset only bites where one exists).
    first = stream(30)
    a0 = h.classifier(broker.bootstrap, topics, group=group, args=args).start()
    h.produce_many(broker.bootstrap, raw, first)
    daitest.wait_for(lambda: settled(a0), timeout=60, what="the first batch committed")
    assert a0.stop() == 0
    # A keeps its transaction open long enough for B to leave while it holds progress.
    a = h.classifier(broker.bootstrap, topics, group=group, args=args,
                     env={"CLASSIFIER_TXN_INTERVAL": "25s"}).start()
    b = h.classifier(broker.bootstrap, topics, group=group, args=args).start()
    c = None
    try:
        def split():
            pa = {k for k in h.metrics(a) if k.startswith("dai_classifier_consumer_lag{")}
            pb = {k for k in h.metrics(b) if k.startswith("dai_classifier_consumer_lag{")}
            return pa and pb and not (pa & pb) and len(pa | pb) == 3
        daitest.wait_for(split, timeout=60, interval=0.3, what="both processes assigned")
        sent = first + stream(60, first=1000)
        h.produce_many(broker.bootstrap, raw, sent[len(first):])
        # Everything is processed; B's share is committed, A's still in its open transaction.
        daitest.wait_for(lambda: len(h.enriched(broker.bootstrap, topics,
                                                read_committed=False)) >= len(sent),
                         timeout=60, interval=0.1, what="every input processed")
        open_a = len(sent) - len(h.enriched(broker.bootstrap, topics))
        assert open_a > 0, "A committed before B left; nothing was tested"
        assert b.stop() == 0  # A now gets B's partitions as an increment
        daitest.wait_for(lambda: len([k for k in h.metrics(a)
                                      if k.startswith("dai_classifier_consumer_lag{")]) == 3,
                         timeout=60, interval=0.2, what="A to own all three partitions")
        daitest.wait_for(lambda: len(h.enriched(broker.bootstrap, topics)) >= len(sent),
                         timeout=60, interval=0.2, what="A's transaction committed")
        a.kill9()
        # A fresh member starts from the group's committed offsets.
        c = h.classifier(broker.bootstrap, topics, group=group, args=args).start()
        daitest.wait_for(lambda: settled(c), timeout=60, what="the new member to settle")
        assert_exactly_once(h.enriched(broker.bootstrap, topics), sent)
    finally:
        for d in (a, b, c):
            if d:
                d.stop()
