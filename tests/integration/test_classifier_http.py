"""The classifier's /ready under stress, against a broker of the test's own:
requests on keep-alive connections while SIGTERM tears the daemon down with
the broker gone (under the ASan build of `make sanitize` a request that
outlives the daemon is reported as a use-after-free; any build must exit 0),
and /ready answering from the cached background check instead of holding an
HTTP thread for a broker timeout.
"""
import http.client
import signal
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fake_llm"))
import harness as h  # noqa: E402
import daitest  # noqa: E402


def _ready_loop(port, stop, counts):
    """GET /ready over one keep-alive connection until stop is set or the
    server is gone; counts answered requests."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    while not stop.is_set():
        try:
            conn.request("GET", "/ready")
            r = conn.getresponse()
            r.read()
            counts.append(r.status)
        except (OSError, http.client.HTTPException):
            conn.close()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.connect()
            except OSError:
                return  # the server has closed its socket: done
    conn.close()


def test_classifier_ready_does_not_wait_for_a_gone_broker(private_broker, topics):
    d = h.classifier(private_broker.bootstrap, topics).start()
    try:
        private_broker.stop()

        # the background check notices the broker is gone
        def not_ready():
            st, _, _ = daitest.request("GET", f"{d.url}/ready", timeout=10)
            return st == 503
        daitest.wait_for(not_ready, timeout=60, interval=0.2, what="/ready to turn 503")
        # and every /ready answers from the cached result, not after a
        # broker timeout (2 s per request before)
        slowest = 0.0
        for _ in range(10):
            t0 = time.monotonic()
            st, _, body = daitest.request("GET", f"{d.url}/ready", timeout=10)
            slowest = max(slowest, time.monotonic() - t0)
            assert st == 503, body
        assert slowest < 0.5, f"/ready took {slowest:.2f} s with the broker down"

        # the broker comes back (same port and data): so does /ready
        private_broker.start()
        d.wait_ready(timeout=60)
    finally:
        code = d.stop()
    assert code == 0, d.logs()[-4000:]


def test_classifier_sigterm_with_ready_requests_in_flight(private_broker, topics):
    d = h.classifier(private_broker.bootstrap, topics).start()
    stop = threading.Event()
    counts = []
    threads = [threading.Thread(target=_ready_loop, args=(d.port, stop, counts), daemon=True)
               for _ in range(8)]
    try:
        for t in threads:
            t.start()
        daitest.wait_for(lambda: len(counts) >= 50, timeout=30,
                         what="/ready answered on the keep-alive connections")
        private_broker.stop()
        n = len(counts)
        daitest.wait_for(lambda: 503 in counts[n:], timeout=60, what="/ready turning 503")
        # /ready requests keep coming on the open connections (each held up
        # to 2 s on the broker before the fix) while SIGTERM tears down
        d.send_signal(signal.SIGTERM)
        d.proc.wait(timeout=90)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=15)
        code = d.stop()
    logs = d.logs()
    assert "AddressSanitizer" not in logs and "runtime error" not in logs, logs[-6000:]
    assert code == 0, logs[-4000:]
