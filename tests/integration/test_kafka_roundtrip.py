"""Round trip through the common Kafka helpers against a real broker.

A broker of the test's own (scripts/kafka-local, free port, fresh data dir)
gets ~1000 keyed messages with headers from tests/tools/kafka_roundtrip
(dai_producer: acks=all, idempotent, every delivery report awaited); reading
them back through dai_consumer (read_committed) must show key, headers and
value intact and each key's messages in order. After a broker restart a fresh
read must show exactly the same messages, and with the broker stopped nothing
may be reported as acknowledged.
"""
import json
import os
import subprocess
import uuid
from pathlib import Path

import daitest

N = 1000
KEYS = 7


def tool():
    """The kafka_roundtrip binary of the build under test (build/ or build-san/)."""
    candidates = []
    if os.environ.get("DAI_TOOL_DIR"):
        candidates.append(Path(os.environ["DAI_TOOL_DIR"]) / "kafka_roundtrip")
    # `make sanitize` runs with DAI_BIN_DIR=build-san/bin: its tools are in build-san/tests.
    candidates.append(daitest.BIN_DIR.parent / "tests" / "kafka_roundtrip")
    candidates.append(daitest.REPO / "build" / "tests" / "kafka_roundtrip")
    for c in candidates:
        if c.exists():
            return c
    raise AssertionError(f"kafka_roundtrip is not built (looked in {candidates}); run make")


def run(broker, *args, timeout=180):
    return subprocess.run([str(tool()), "--bootstrap", broker.bootstrap, *args],
                          capture_output=True, text=True, timeout=timeout)


def produce(broker, topic, n, timeout_ms=60000, *extra):
    r = run(broker, "--topic", topic, "--keys", str(KEYS), "--partitions", "3",
            "--timeout-ms", str(timeout_ms), *extra, "produce", str(n))
    lines = r.stdout.strip().splitlines()
    summary = json.loads(lines[-1]) if lines else None
    return r, summary


def consume(broker, topic, n):
    r = run(broker, "--topic", topic, "--timeout-ms", "90000", "consume", str(n))
    assert r.returncode == 0, f"consume failed:\n{r.stderr[-4000:]}"
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def check_intact_and_ordered(msgs):
    assert len(msgs) == N
    next_seq = {}
    partitions_of_key = {}
    offsets = {}
    for m in msgs:
        v = json.loads(m["value"])
        assert m["key"] == v["key"]
        assert m["headers"] == {"x-seq": str(v["seq"]),
                                "correlation-id": f"rt-{v['i']}",
                                "content-type": "application/json"}
        # Per key: every message, once, in the order it was produced.
        assert v["seq"] == next_seq.get(m["key"], 0), f"out of order: {m}"
        next_seq[m["key"]] = v["seq"] + 1
        partitions_of_key.setdefault(m["key"], set()).add(m["partition"])
        offsets.setdefault(m["partition"], []).append(m["offset"])
    assert sorted(next_seq) == [f"key-{k}" for k in range(KEYS)]
    assert sum(next_seq.values()) == N
    assert all(len(p) == 1 for p in partitions_of_key.values()), partitions_of_key
    # Each partition holds a contiguous run from offset 0: nothing skipped.
    for part, offs in offsets.items():
        assert offs == list(range(len(offs))), f"partition {part} offsets {offs[:10]}..."


def test_kafka_roundtrip_survives_restart(private_broker):
    topic = f"roundtrip-{uuid.uuid4().hex[:8]}"

    r, summary = produce(private_broker, topic, N)
    assert r.returncode == 0, f"produce failed:\n{r.stderr[-4000:]}"
    assert summary == {"produced": N, "acked": N, "failed": 0, "unsent": 0}

    first = consume(private_broker, topic, N)
    check_intact_and_ordered(first)

    private_broker.restart()
    second = consume(private_broker, topic, N)
    check_intact_and_ordered(second)
    by_position = lambda msgs: {(m["partition"], m["offset"]): m for m in msgs}  # noqa: E731
    assert by_position(second) == by_position(first)

    # With the broker gone the messages are accepted into the producer's
    # queue but never acknowledged: each one must come back failed.
    private_broker.stop()
    r, summary = produce(private_broker, topic, 5, 3000, "--no-create")
    assert r.returncode != 0
    assert summary is not None, r.stderr
    assert summary["acked"] == 0 and summary["failed"] == 5, summary
