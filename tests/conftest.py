"""pytest fixtures shared by tests/integration and tests/e2e.

`broker` is one real Kafka broker for the whole session (tests isolate
themselves with unique topic names); `private_broker` is a broker of a test's
own, for tests that stop or restart it."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "lib"))

import daitest  # noqa: E402


def _started_broker():
    b = daitest.Broker()
    try:
        return b.start()
    except Exception:
        b.cleanup()
        raise


@pytest.fixture(scope="session")
def broker():
    b = _started_broker()
    yield b
    b.cleanup()


@pytest.fixture
def private_broker():
    b = _started_broker()
    yield b
    b.cleanup()


@pytest.fixture
def topics():
    """Unique topic names for this test, as the daemons' environment variables."""
    return daitest.unique_topics()


def pytest_sessionstart(session):
    report = daitest.RUN_DIR / "guarantees.jsonl"
    if report.exists():
        report.unlink()


def pytest_terminal_summary(terminalreporter):
    """Print the end-to-end guarantees checked in this run, with their counts."""
    import json
    report = daitest.RUN_DIR / "guarantees.jsonl"
    if not report.exists():
        return
    tr = terminalreporter
    tr.section("DispatchAI guarantees checked")
    totals = {"sent": 0, "acknowledged": 0, "found_exactly_once": 0, "missing": 0,
              "duplicated": 0, "faults_injected": 0}
    for line in report.read_text().splitlines():
        r = json.loads(line)
        name = r.pop("check")
        tr.write_line(f"{name:40s} " + ", ".join(f"{k}={v}" for k, v in r.items()))
        for k in totals:
            totals[k] += r.get(k, 0) if isinstance(r.get(k, 0), int) else 0
    if totals["sent"]:
        tr.write_line(
            f"TOTAL: {totals['sent']} deliveries sent, {totals['acknowledged']} acknowledged, "
            f"{totals['found_exactly_once']} found exactly once in issues.enriched, "
            f"{totals['missing']} lost, {totals['duplicated']} duplicated, "
            f"{totals['faults_injected']} faults injected")
