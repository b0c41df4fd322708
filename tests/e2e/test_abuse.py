"""Hostile HTTP clients against the ingress and the gateway: slow and
oversized headers, idle connection floods, truncated bodies, invalid UTF-8,
deep nesting, huge numbers (dead-lettered, never lost), duplicate keys. The daemons answer with exact
statuses, keep serving well-behaved clients, and never crash."""
import json
import socket
import threading
import time

import pytest

import daitest
from stack import SECRET, WRITE_TOKEN, Stack, issue_payload


@pytest.fixture(scope="module")
def daemons(broker):
    topics = daitest.unique_topics("abuse")
    s = Stack(broker, topics)
    broker.create_topics(*topics.values())
    s.ingress = s.make_ingress()
    s.ingress.env.update({"HTTP_IDLE_TIMEOUT": "2s", "HTTP_MAX_CONNECTIONS": "600"})
    s.ingress.start()
    s.gateway = s.make_gateway()
    s.gateway.env.update({"HTTP_IDLE_TIMEOUT": "2s", "HTTP_MAX_CONNECTIONS": "600"})
    s.gateway.start()
    yield s
    codes = {n: getattr(s, n).stop() for n in ("ingress", "gateway")}
    assert codes == {"ingress": 0, "gateway": 0}, codes


def healthy(d, timeout=2):
    t0 = time.monotonic()
    st, _, _ = daitest.request("GET", f"{d.url}/health", timeout=timeout)
    return st == 200 and time.monotonic() - t0 < timeout


def raw_exchange(port, data, read=True, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        if not read:
            return b""
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def status_of(resp):
    line = resp.split(b"\r\n", 1)[0]
    return int(line.split()[1]) if line.startswith(b"HTTP/") else None


def signed_post(d, body, event="issues"):
    h = daitest.webhook_headers(event, body, SECRET)
    return daitest.request("POST", f"{d.url}/webhook/github", body, h)


@pytest.mark.parametrize("name", ["ingress", "gateway"])
def test_slowloris_headers_do_not_block_others(daemons, name):
    d = getattr(daemons, name)
    socks = []
    stop = threading.Event()
    for _ in range(50):
        s = socket.create_connection(("127.0.0.1", d.port))
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)

    def trickle():
        while not stop.is_set():
            for s in socks:
                try:
                    s.sendall(b"X-a: b\r\n")
                except OSError:
                    pass
            time.sleep(0.3)
    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    try:
        for _ in range(10):
            assert healthy(d), f"{name} stopped serving during a slow-header attack"
    finally:
        stop.set()
        t.join()
        for s in socks:
            s.close()


@pytest.mark.parametrize("name", ["ingress", "gateway"])
def test_oversized_headers_rejected(daemons, name):
    d = getattr(daemons, name)
    req = (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n")
    try:
        resp = raw_exchange(d.port, req)
        assert status_of(resp) in (400, 413, 431), resp[:200]
    except (ConnectionResetError, BrokenPipeError):
        pass  # closing the connection is an acceptable answer to 200 KB of headers
    assert healthy(d)


@pytest.mark.parametrize("name", ["ingress", "gateway"])
def test_idle_connection_flood_is_reaped(daemons, name):
    d = getattr(daemons, name)
    socks = [socket.create_connection(("127.0.0.1", d.port)) for _ in range(300)]
    try:
        assert healthy(d)
        # The idle timeout (2 s here) closes them: a read sees EOF.
        s = socks[0]
        s.settimeout(10)
        t0 = time.monotonic()
        assert s.recv(1) == b""
        assert time.monotonic() - t0 < 9
    finally:
        for s in socks:
            s.close()
    assert healthy(d)


def test_ingress_truncated_body(daemons):
    d = daemons.ingress
    body = json.dumps(issue_payload(1)).encode()
    h = daitest.webhook_headers("issues", body, SECRET)
    head = "POST /webhook/github HTTP/1.1\r\nHost: x\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in h.items()) + f"Content-Length: {len(body)}\r\n\r\n"
    raw_exchange(d.port, head.encode() + body[:100], read=False)
    assert healthy(d)


def test_ingress_invalid_utf8_is_400(daemons):
    body = json.dumps(issue_payload(2)).encode().replace(b"App", b"\xff\xfe", 1)
    st, _, data = signed_post(daemons.ingress, body)
    assert st == 400, data
    assert json.loads(data)["error"]["code"]


def test_ingress_deeply_nested_json_is_400(daemons):
    body = b'{"action":"opened","x":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    st, _, data = signed_post(daemons.ingress, body)
    assert st == 400, data[:200]
    assert healthy(daemons.ingress)


def test_ingress_huge_numbers_are_dead_lettered(daemons):
    # Valid JSON, signed, but an issue number no consumer can hold: not lost
    # (GitHub does not retry a 400), acknowledged on the dead-letter topic.
    p = issue_payload(3)
    body = json.dumps(p).encode().replace(b'"number": 3', b'"number": 1' + b"0" * 400, 1)
    assert b"1" + b"0" * 400 in body
    st, _, data = signed_post(daemons.ingress, body)
    assert st == 202, data[:200]
    resp = json.loads(data)
    assert resp["status"] == "dead_lettered" and "issue.number" in resp["reason"]
    assert healthy(daemons.ingress)


def test_ingress_duplicate_keys_handled(daemons):
    body = json.dumps(issue_payload(4)).encode()
    body = b'{"action":"bogus",' + body[1:]
    st, _, data = signed_post(daemons.ingress, body)
    assert st in (202, 400), data[:200]
    assert healthy(daemons.ingress)


def test_gateway_hostile_queries(daemons):
    g = daemons.gateway
    for q in ["cursor=%ff%fe", "cursor=" + "A" * 10000, "limit=-1", "limit=99999999999999999999",
              "since=yesterday", "category=bug%00", "q=" + "%" * 50, "repo=" + "x" * 5000]:
        st, _, data = daitest.request("GET", f"{g.url}/api/issues?{q}")
        assert st == 400 or st == 200, (q, st, data[:200])
        if st == 400:
            assert json.loads(data)["error"]["code"]
    assert healthy(g)


def test_gateway_hostile_correction_bodies(daemons):
    g = daemons.gateway
    auth = {"Authorization": f"Bearer {WRITE_TOKEN}", "Content-Type": "application/json"}
    url = f"{g.url}/api/issues/testorg/testrepo/1/correction"
    for body in [b"\xff\xfe", b"[" * 10_000, b'{"category":"bug","category":"nope"}',
                 b'{"confidence":1' + b"0" * 400 + b"}"]:
        st, _, data = daitest.request("POST", url, body, auth)
        assert st in (400, 404), (body[:20], st, data[:200])
    # An oversized body is refused from its Content-Length, before it is read.
    head = (f"POST /api/issues/testorg/testrepo/1/correction HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {WRITE_TOKEN}\r\nContent-Type: application/json\r\n"
            f"Content-Length: 300000000\r\n\r\n{{").encode()
    assert status_of(raw_exchange(g.port, head)) == 413
    assert healthy(g)
