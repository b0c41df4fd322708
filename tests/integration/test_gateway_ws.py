"""Gateway WebSocket /ws with real independent clients (Python `websockets`, and raw
sockets for what a well-behaved library will not send): hello and updates,
subscription filtering, resume with ?since= and resync_required, protocol
keepalive and idle close, the close handshake, fragmented and masked frames,
invalid frames with the right close codes, handshake refusals, and a slow client
closed with 1013 while a fast one keeps receiving."""
import asyncio
import base64
import json
import os
import re
import socket
import struct
import time

import pytest
import websockets

import daitest
from test_gateway_support import (READ, enriched, ensure_topic, gateway, get, produce_events,
                                  recv_json, recv_until, run, ws_url)


@pytest.fixture
def gw(broker, topics):
    ensure_topic(broker, topics["KAFKA_TOPIC_ENRICHED_ISSUES"])
    produce_events(broker.bootstrap, topics["KAFKA_TOPIC_ENRICHED_ISSUES"], [enriched(number=1)])
    g = gateway(broker, topics, env={"GATEWAY_WS_PING_INTERVAL": "300ms",
                                     "GATEWAY_WS_IDLE_TIMEOUT": "1500ms",
                                     "GATEWAY_WS_MAX_MESSAGE": "4096",
                                     "GATEWAY_WS_MAX_CLIENTS": "20"}).start()
    g.topic = topics["KAFKA_TOPIC_ENRICHED_ISSUES"]
    g.bootstrap = broker.bootstrap
    yield g
    assert g.stop() == 0  # clean exit: also no sanitizer report under make sanitize


def produce(gw, *evs):
    produce_events(gw.bootstrap, gw.topic, list(evs))


def num(msg):
    d = msg["data"]
    return (d.get("pull_request") or d["issue"])["number"]


# ---- raw client ----------------------------------------------------------------

class Raw:
    """A minimal hand-rolled WebSocket client for frames libraries refuse to send."""

    def __init__(self, port, query="token=read-token-0123456", rcvbuf=None, headers="", host=None):
        self.s = socket.socket()
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.settimeout(10)
        self.s.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        host = host or f"127.0.0.1:{port}"
        self.s.sendall((f"GET /ws?{query} HTTP/1.1\r\nHost: {host}\r\n"
                        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                        f"{headers}\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.s.recv(4096)
            assert chunk, "connection closed during handshake"
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.head = head.decode("latin-1")
        self.status = int(head.split()[1])

    def send(self, opcode, payload, fin=True, mask=True, rsv=0, length=None):
        n = len(payload) if length is None else length
        b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
        if n < 126:
            hdr = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
        else:
            hdr = struct.pack("!BBQ", b0, (0x80 if mask else 0) | 127, n)
        if mask:
            key = os.urandom(4)
            payload = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
            hdr += key
        self.s.sendall(hdr + payload)

    def frame(self):
        """(opcode, payload) of the next server frame, or None at EOF."""
        def need(n):
            while len(self.buf) < n:
                chunk = self.s.recv(65536)
                if not chunk:
                    return False
                self.buf += chunk
            return True
        if not need(2):
            return None
        b0, b1 = self.buf[0], self.buf[1]
        assert not b1 & 0x80, "server frames are never masked"
        n, off = b1 & 0x7F, 2
        if n == 126:
            need(4)
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            need(10)
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        assert need(off + n)
        payload, self.buf = self.buf[off:off + n], self.buf[off + n:]
        return b0 & 0x0F, payload

    def close_code(self):
        """Read until the server's close frame; its status code."""
        while True:
            f = self.frame()
            assert f is not None, "EOF without a close frame"
            if f[0] == 0x8:
                return struct.unpack("!H", f[1][:2])[0] if len(f[1]) >= 2 else None

    def close(self):
        self.s.close()


# ---- tests -----------------------------------------------------------------------

def test_ws_hello_updates_and_application_messages(gw):
    async def go():
        async with websockets.connect(ws_url(gw), extra_headers=READ) as ws:
            hello = await recv_json(ws)
            assert hello["type"] == "hello" and isinstance(hello["seq"], int)
            await ws.send(json.dumps({"type": "ping"}))
            assert (await recv_json(ws))["type"] == "pong"
            await ws.send("not json")
            err = await recv_json(ws)
            assert err["type"] == "error" and err["error"]["code"] == "bad_message"
            await ws.send(json.dumps({"type": "subscribe", "filter": {"categories": ["nope"]}}))
            assert (await recv_json(ws))["type"] == "error"
            produce(gw, enriched(number=5, title="Fresh one"))
            m = await recv_json(ws)
            assert m["type"] == "issue_update" and m["seq"] == hello["seq"] + 1
            assert num(m) == 5 and m["data"]["classification"]["category"] == "bug"
            assert m["removed"] is False
            # The REST view agrees with what was pushed.
            assert get(gw, "/api/issues/acme/widgets/5")[2]["latest"] == m["data"]
    run(go())


def test_ws_subscription_filtering(gw):
    async def go():
        conns = {}
        subs = {"security": {"categories": ["security"]},
                "other": {"repos": ["ACME/Other"]},
                "urgent": {"priorities": ["critical"], "types": ["pull_request"]},
                "all": {}}
        for name, flt in subs.items():
            ws = await websockets.connect(ws_url(gw), extra_headers=READ)
            await recv_json(ws)
            await ws.send(json.dumps({"type": "subscribe", "filter": flt}))
            ack = await recv_json(ws)
            assert ack["type"] == "subscribed"
            conns[name] = ws
        evs = [enriched(number=10, category="security"),
               enriched(repo="acme/other", number=11, category="bug"),
               enriched(number=12, kind="pull_request", priority="critical"),
               enriched(number=13, priority="critical"),  # an issue, not a PR
               enriched(number=14, category="question"),
               enriched(repo="acme/other", number=15, kind="pull_request",
                        category="security", priority="critical")]
        produce(gw, *evs)
        want = {"security": {10, 15}, "other": {11, 15}, "urgent": {12, 15},
                "all": {10, 11, 12, 13, 14, 15}}
        # Different issues may sit on different partitions, so their order is
        # not fixed: wait until the unfiltered client has all of them (each
        # update is offered to every client at once), then use an application
        # ping as a barrier — its pong is queued behind any update already
        # queued for that connection.
        got = set()
        while got != want["all"]:
            m = await recv_json(conns["all"])
            got.add(num(m))
        for name, ws in conns.items():
            await ws.send('{"type":"ping"}')
            _, seen = await recv_until(ws, lambda m: m["type"] == "pong")
            got = [num(m) for m in seen if m["type"] == "issue_update"]
            if name == "all":
                assert got == []
            else:
                assert sorted(got) == sorted(want[name]), name
            await ws.close()
    run(go())


def test_ws_update_reaches_subscribers_of_the_old_state(gw):
    """An issue re-classified out of a filter still tells that filter's subscribers."""
    async def go():
        produce(gw, enriched(number=20, category="security", processed_ms=1_767_000_500_000))
        daitest.wait_for(lambda: get(gw, "/api/issues/acme/widgets/20")[0] == 200,
                         what="issue 20")
        async with websockets.connect(ws_url(gw, "categories=security&token=read-token-0123456")) as ws:
            hello = await recv_json(ws)
            assert hello["filter"]["categories"] == ["security"]
            produce(gw, enriched(number=20, category="bug", processed_ms=1_767_000_600_000))
            m = await recv_json(ws)
            assert num(m) == 20 and m["data"]["classification"]["category"] == "bug"
    run(go())


def test_ws_resume_with_since(broker, topics):
    ensure_topic(broker, topics["KAFKA_TOPIC_ENRICHED_ISSUES"])
    g = gateway(broker, topics, env={"GATEWAY_WS_RESUME_ENTRIES": "8"}).start()
    t = topics["KAFKA_TOPIC_ENRICHED_ISSUES"]
    try:
        async def go():
            async with websockets.connect(ws_url(g), extra_headers=READ) as ws:
                await recv_json(ws)
                produce_events(broker.bootstrap, t, [enriched(number=n) for n in (1, 2)])
                got = [await recv_json(ws) for _ in range(2)]
            last = got[-1]["seq"]
            # Missed while away: replayed in order after the hello, then live.
            produce_events(broker.bootstrap, t, [enriched(number=n) for n in (3, 4, 5)])
            daitest.wait_for(lambda: get(g, "/api/stats")[2]["total"] == 5, what="5 issues")
            async with websockets.connect(ws_url(g, f"since={last}"), extra_headers=READ) as ws:
                hello = await recv_json(ws)
                assert hello["seq"] == last + 3
                missed = [await recv_json(ws) for _ in range(3)]
                assert [m["seq"] for m in missed] == [last + 1, last + 2, last + 3]
                assert sorted(num(m) for m in missed) == [3, 4, 5]
                produce_events(broker.bootstrap, t, [enriched(number=6)])
                m = await recv_json(ws)
                assert m["seq"] == last + 4 and num(m) == 6
            # Up to date: nothing replayed.
            async with websockets.connect(ws_url(g, f"since={last + 4}"), extra_headers=READ) as ws:
                await recv_json(ws)
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(ws.recv(), 0.5)
            # Resume through subscribe, filtered.
            async with websockets.connect(ws_url(g), extra_headers=READ) as ws:
                await recv_json(ws)
                await ws.send(json.dumps({"type": "subscribe", "since": last,
                                          "filter": {"categories": ["bug"]}}))
                assert (await recv_json(ws))["type"] == "subscribed"
                assert sorted([num(await recv_json(ws)) for _ in range(4)]) == [3, 4, 5, 6]
            # Too far back (the log holds 8 updates) or from another process.
            produce_events(broker.bootstrap, t, [enriched(number=n) for n in range(7, 17)])
            daitest.wait_for(lambda: get(g, "/api/stats")[2]["total"] == 16, what="16 issues")
            for since in (last, 1, last + 10_000):
                async with websockets.connect(ws_url(g, f"since={since}"), extra_headers=READ) as ws:
                    await recv_json(ws)
                    m = await recv_json(ws)
                    assert m["type"] == "resync_required", since
        run(go())
        _, _, metrics = daitest.request("GET", g.url + "/metrics")
        assert re.search(rb'gateway_ws_resumes_total\{result="resync"\} 3', metrics)
        assert re.search(rb'gateway_ws_resumes_total\{result="replayed"\} [1-9]', metrics)
    finally:
        assert g.stop() == 0


def test_ws_frames_from_an_independent_client(gw):
    """Fragmented and masked frames, protocol ping, close handshake (websockets)."""
    async def go():
        ws = await websockets.connect(ws_url(gw), extra_headers=READ)
        await recv_json(ws)
        # A fragmented message: websockets sends each piece as its own frame.
        await ws.send(['{"type"', ':"pi', 'ng"}'])
        assert (await recv_json(ws))["type"] == "pong"
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 5)
        # Keepalive: the server pings every 300 ms and closes after 1.5 s of
        # silence; websockets answers pings itself, so it stays connected.
        await asyncio.sleep(2.5)
        await ws.send('{"type":"ping"}')
        assert (await recv_json(ws))["type"] == "pong"
        await ws.close(1000, "bye")
        assert ws.close_code == 1000
    run(go())


def test_ws_invalid_frames_get_the_right_close_code(gw):
    cases = [
        ("unmasked", 1002, lambda r: r.send(0x1, b'{"type":"ping"}', mask=False)),
        ("reserved bits", 1002, lambda r: r.send(0x1, b"x", rsv=4)),
        ("reserved opcode", 1002, lambda r: r.send(0x3, b"x")),
        ("binary", 1003, lambda r: r.send(0x2, b"\x00\x01")),
        ("invalid utf-8", 1007, lambda r: r.send(0x1, b"\xc0\xaf")),
        ("too big", 1009, lambda r: r.send(0x1, b"a" * 5000)),
        ("ping over 125 bytes", 1002, lambda r: r.send(0x9, b"p" * 126)),
        ("fragmented ping", 1002, lambda r: r.send(0x9, b"p", fin=False)),
        ("continuation first", 1002, lambda r: r.send(0x0, b"x")),
        ("bad close code", 1002, lambda r: r.send(0x8, struct.pack("!H", 1005))),
    ]
    for name, code, act in cases:
        r = Raw(gw.port)
        assert r.status == 101
        op, hello = r.frame()
        assert op == 0x1 and json.loads(hello)["type"] == "hello"
        act(r)
        assert r.close_code() == code, name
        # The server half-closes after its close frame.
        r.s.settimeout(5)
        assert r.frame() is None or True
        r.close()
    # The daemon is fine and still serves a good client.
    async def ok():
        async with websockets.connect(ws_url(gw), extra_headers=READ) as ws:
            assert (await recv_json(ws))["type"] == "hello"
    run(ok())


def test_ws_idle_client_is_closed(gw):
    r = Raw(gw.port)
    assert r.frame()[0] == 0x1  # hello
    t0 = time.monotonic()
    # Never answer the server's pings: after the idle timeout it closes (1001).
    code = None
    while code is None:
        f = r.frame()
        assert f is not None
        if f[0] == 0x8:
            code = struct.unpack("!H", f[1][:2])[0]
    assert code == 1001
    assert 1.0 < time.monotonic() - t0 < 6
    r.close()


def test_ws_handshake_refusals(gw):
    st, h, b = daitest.request("GET", gw.url + "/ws", headers=READ)
    assert st == 426 and json.loads(b)["error"]["code"] == "upgrade_required"
    hs = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "8",
          "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", **READ}
    st, h, b = daitest.request("GET", gw.url + "/ws", headers=hs)
    assert st == 426 and h["sec-websocket-version"] == "13"
    hs["Sec-WebSocket-Version"] = "13"
    hs["Sec-WebSocket-Key"] = "short"
    assert daitest.request("GET", gw.url + "/ws", headers=hs)[0] == 400
    hs["Sec-WebSocket-Key"] = "dGhlIHNhbXBsZSBub25jZQ=="
    assert daitest.request("GET", gw.url + "/ws?since=abc", headers=hs)[0] == 400
    assert daitest.request("GET", gw.url + "/ws?categories=nope", headers=hs)[0] == 400
    assert daitest.request("GET", gw.url + "/ws?colour=red", headers=hs)[0] == 400
    del hs["Authorization"]
    assert daitest.request("GET", gw.url + "/ws", headers=hs)[0] == 401
    assert daitest.request("GET", gw.url + "/ws?token=wrong-token", headers=hs)[0] == 401
    assert daitest.request("GET", gw.url + "/ws?token=wonly-token-0789012", headers=hs)[0] == 403
    assert daitest.request("POST", gw.url + "/ws", headers=hs)[0] == 405

    async def limit():
        conns = [await websockets.connect(ws_url(gw), extra_headers=READ) for _ in range(20)]
        for c in conns:
            await recv_json(c)
        with pytest.raises(websockets.exceptions.InvalidStatusCode) as e:
            await websockets.connect(ws_url(gw), extra_headers=READ)
        assert e.value.status_code == 503
        for c in conns:
            await c.close()
    run(limit())


def test_ws_batch_delay_holds_updates_and_sends_them_together(broker, topics):
    t = topics["KAFKA_TOPIC_ENRICHED_ISSUES"]
    ensure_topic(broker, t)
    g = gateway(broker, topics, env={"GATEWAY_WS_BATCH_DELAY": "400ms"}).start()
    try:
        async def go():
            async with websockets.connect(ws_url(g), extra_headers=READ) as ws:
                await recv_json(ws)
                produce_events(broker.bootstrap, t, [enriched(number=n) for n in (1, 2, 3)])
                got = sorted([num(await recv_json(ws)) for _ in range(3)])
                assert got == [1, 2, 3]
        run(go())
        _, _, m = daitest.request("GET", g.url + "/metrics")
        text = m.decode()
        # Every update waited in the inbox for the delay: none was out in <= 250 ms.
        assert re.search(r'^gateway_ws_fanout_seconds_bucket\{le="0.25"\} 0$', text, re.M)
        assert re.search(r"^gateway_ws_fanout_seconds_count 3$", text, re.M)
    finally:
        assert g.stop() == 0


def test_ws_token_in_a_subprotocol_instead_of_the_url(gw):
    """Sec-WebSocket-Protocol: dispatchai.v1, dispatchai.token.<token> authenticates without
    putting the token in the URL; the answer selects dispatchai.v1 and never echoes the token."""
    async def go():
        protos = ["dispatchai.v1", "dispatchai.token.read-token-0123456"]
        async with websockets.connect(ws_url(gw), subprotocols=protos) as ws:
            assert ws.subprotocol == "dispatchai.v1"
            assert (await recv_json(ws))["type"] == "hello"
        with pytest.raises(websockets.exceptions.InvalidStatusCode) as e:
            async with websockets.connect(ws_url(gw), subprotocols=[
                    "dispatchai.v1", "dispatchai.token.wrong-token-0000000"]):
                pass
        assert e.value.status_code == 401
        # ?token= still works for older clients.
        async with websockets.connect(ws_url(gw, "token=read-token-0123456")) as ws:
            assert (await recv_json(ws))["type"] == "hello"
    run(go())
    r = Raw(gw.port, query="", headers="Sec-WebSocket-Protocol: dispatchai.v1, "
            "dispatchai.token.read-token-0123456\r\n")
    assert r.status == 101
    assert "\r\nSec-WebSocket-Protocol: dispatchai.v1" in r.head, r.head
    assert "read-token" not in r.head
    r.close()
    assert "read-token-0123456" not in gw.logs()


def ws_status(g, origin=None, host=None, query="token=read-token-0123456"):
    r = Raw(g.port, query=query, headers=f"Origin: {origin}\r\n" if origin else "", host=host)
    r.close()
    return r.status


def test_ws_origin_policy(broker, topics):
    ensure_topic(broker, topics["KAFKA_TOPIC_ENRICHED_ISSUES"])
    g = gateway(broker, topics, env={"GATEWAY_CORS_ORIGINS": "https://dash.example",
                                     "GATEWAY_PUBLIC_URLS": "https://triage.example/"}).start()
    try:
        assert ws_status(g, "https://evil.example") == 403
        assert ws_status(g, "https://dash.example") == 101
        assert ws_status(g, "https://triage.example") == 101
        # The dashboard served by the gateway itself, opened on this machine.
        assert ws_status(g, f"http://127.0.0.1:{g.port}") == 101
        assert ws_status(g, f"http://localhost:{g.port}") == 101
        # DNS rebinding: the attacker's name resolves to us, and Host agrees with Origin.
        assert ws_status(g, f"http://rebind.example:{g.port}", host=f"rebind.example:{g.port}") == 403
    finally:
        assert g.stop() == 0


def test_ws_origin_refused_by_default_on_a_public_read_gateway(broker, topics):
    """No cors list, no public URL, reads without a token (the dev compose): a web page from
    elsewhere must not read the live feed, with or without DNS rebinding."""
    ensure_topic(broker, topics["KAFKA_TOPIC_ENRICHED_ISSUES"])
    g = gateway(broker, topics, env={"GATEWAY_PUBLIC_READ": "true"}).start()
    try:
        assert ws_status(g, "http://evil.example") == 403
        assert ws_status(g, f"http://evil.example:{g.port}", host=f"evil.example:{g.port}") == 403
        assert ws_status(g, "null") == 403
        assert ws_status(g, f"http://127.0.0.1:{g.port}") == 101
        assert ws_status(g, query="") == 101  # not a browser, no token: public reads alone
    finally:
        assert g.stop() == 0


def test_ws_slow_client_is_closed_1013_while_a_fast_one_keeps_up(broker, topics):
    t = topics["KAFKA_TOPIC_ENRICHED_ISSUES"]
    ensure_topic(broker, t)
    g = gateway(broker, topics, env={"GATEWAY_WS_QUEUE_MESSAGES": "40",
                                     "GATEWAY_WS_SOCKET_SNDBUF": "4096",
                                     "GATEWAY_WS_CLOSE_TIMEOUT": "60s"}).start()
    try:
        slow = Raw(g.port, rcvbuf=4096)  # handshakes, then reads nothing
        assert slow.status == 101
        body = "x" * 3000
        batches, per = 5, 30

        async def fast():
            # Bursts of 30 (under the queue of 40): the fast client drains each
            # one; the slow client's queue grows past 40 in the second.
            async with websockets.connect(ws_url(g), extra_headers=READ) as ws:
                await recv_json(ws)
                for b in range(batches):
                    nums = range(b * per + 1, (b + 1) * per + 1)
                    produce_events(broker.bootstrap, t,
                                   [enriched(number=i, body=body) for i in nums])
                    got = [num(await recv_json(ws, 30)) for _ in nums]
                    assert sorted(got) == list(nums)
        t0 = time.monotonic()
        run(fast())
        assert time.monotonic() - t0 < 30
        _, _, m = daitest.request("GET", g.url + "/metrics")
        assert re.search(rb"^gateway_ws_slow_disconnects_total 1", m, re.M)
        # The slow client finally reads: what the buffers held, then 1013.
        assert slow.close_code() == 1013
        slow.close()
        assert "too slow" in g.logs()
    finally:
        assert g.stop() == 0
