"""pytest fixtures shared by tests/integration and tests/e2e.

`broker` is one real Kafka broker for the whole session (tests isolate
themselves with unique topic names); `private_broker` is a broker of a test's
own, for tests that stop or restart it."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "lib"))

import daitest  # noqa: E402


@pytest.fixture(scope="session")
def broker():
    b = daitest.Broker().start()
    yield b
    b.cleanup()


@pytest.fixture
def private_broker():
    b = daitest.Broker().start()
    yield b
    b.cleanup()


@pytest.fixture
def topics():
    """Unique topic names for this test, as the daemons' environment variables."""
    return daitest.unique_topics()
