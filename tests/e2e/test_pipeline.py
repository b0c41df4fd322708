"""End to end: a signed webhook through ingress, classifier (fake LLM) and
gateway to a WebSocket client and the REST API, for one issue's whole life."""
import statistics
import time

import pytest

import daitest
from stack import Stack, comment_payload, issue_payload, record

REPO_NAME = "e2eorg/widgets"


@pytest.fixture
def stack(broker, topics):
    s = Stack(broker, topics).start()
    yield s
    codes = s.stop()
    assert all(c == 0 for c in codes.values()), f"unclean exit codes {codes}"


def issue_view(stack, number):
    st, body = daitest.get_json(f"{stack.gateway.url}/api/issues/{REPO_NAME}/{number}")
    return body if st == 200 else None


def test_issue_lifecycle_end_to_end(stack):
    number = 4242
    ws = daitest.WSClient(f"ws://127.0.0.1:{stack.gateway.port}/ws",
                          subscribe={"repos": [REPO_NAME]})
    ws.wait(lambda m: m.get("type") == "hello", what="hello")
    key = f"{REPO_NAME}:issue:{number}"

    def updates_for(action):
        return [m for m in ws.updates()
                if m["data"]["issue"]["number"] == number and m["data"]["action"] == action]

    # opened → classified by the (fake) LLM, pushed to the subscriber, listed by REST.
    t0 = time.monotonic()
    st, body, guid = stack.deliver("issues", issue_payload(
        number, title="App crashes with a segfault when saving", repo=REPO_NAME,
        body="Steps: open, save. Traceback attached."))
    assert st == 202 and body["status"] == "accepted" and body["key"] == key, body
    opened = ws.wait(lambda m: m.get("type") == "issue_update" and
                     m["data"]["issue"]["number"] == number, timeout=30, what="opened update")
    latency_ms = (ws.received_at[ws.messages.index(opened)] - t0) * 1000
    c = opened["data"]["classification"]
    assert c["source"] == "llm" and c["category"] == "bug", c
    assert opened["data"]["delivery_id"] == guid
    assert opened["data"]["processing_metadata"]["attempts"] >= 1
    daitest.schema_validator("enriched-event").validate(opened["data"])
    st, listing = daitest.get_json(f"{stack.gateway.url}/api/issues?repo={REPO_NAME}")
    assert st == 200 and any(i["issue"]["number"] == number for i in listing["items"]), listing
    calls_after_open = stack.llm.stats()["requests"]

    # labeled → the same classification is reused: no LLM call.
    st, body, _ = stack.deliver("issues", issue_payload(
        number, title="App crashes with a segfault when saving", action="labeled",
        repo=REPO_NAME, body="Steps: open, save. Traceback attached."))
    assert st == 202, body
    lab = daitest.wait_for(lambda: updates_for("labeled"), timeout=30, what="labeled update")[0]
    assert lab["data"]["classification"]["category"] == c["category"]
    assert lab["data"]["processing_metadata"]["attempts"] == 0
    assert stack.llm.stats()["requests"] == calls_after_open

    # edited with a new title → classified again.
    st, body, _ = stack.deliver("issues", issue_payload(
        number, title="How do I configure autosave? (question)", action="edited",
        repo=REPO_NAME, body="Is it possible to change the autosave interval?"))
    assert st == 202, body
    ed = daitest.wait_for(lambda: updates_for("edited"), timeout=30, what="edited update")[0]
    assert ed["data"]["processing_metadata"]["attempts"] >= 1
    assert ed["data"]["classification"]["category"] == "question", ed["data"]["classification"]
    assert stack.llm.stats()["requests"] > calls_after_open
    calls_after_edit = stack.llm.stats()["requests"]

    # a comment and closing → reuse the refreshed classification.
    st, body, _ = stack.deliver("issue_comment", comment_payload(number, "Same here on 2.1.",
                                                                  repo=REPO_NAME))
    assert st == 202 and body["key"] == key, body
    st, body, _ = stack.deliver("issues", issue_payload(
        number, title="How do I configure autosave? (question)", action="closed",
        repo=REPO_NAME, body="Is it possible to change the autosave interval?"))
    assert st == 202, body
    cl = daitest.wait_for(lambda: updates_for("closed"), timeout=30, what="closed update")[0]
    assert cl["data"]["classification"]["category"] == "question"
    assert stack.llm.stats()["requests"] == calls_after_edit

    # The gateway's view ends correct: closed, question, with the history of classifications.
    def final():
        v = issue_view(stack, number)
        return v if v and v["latest"]["issue"]["state"] == "closed" else None
    view = daitest.wait_for(final, timeout=15, what="closed state in the gateway")
    assert view["latest"]["classification"]["category"] == "question"
    assert len(view["history"]) >= 2
    ws.close()

    # Every update for this issue reached the subscriber in order.
    actions = [m["data"]["action"] for m in ws.updates() if m["data"]["issue"]["number"] == number]
    assert actions == ["opened", "labeled", "edited", "created", "closed"], actions
    record("webhook_to_websocket_latency", latency_ms=round(latency_ms, 1))
    print(f"\nwebhook → WebSocket latency: {latency_ms:.1f} ms")


def test_webhook_to_websocket_latency_median(stack):
    """Median over several deliveries (fake LLM answers at once)."""
    ws = daitest.WSClient(f"ws://127.0.0.1:{stack.gateway.port}/ws", subscribe={})
    ws.wait(lambda m: m.get("type") == "hello", what="hello")
    lat = []
    for i in range(20):
        number = 9000 + i
        t0 = time.monotonic()
        st, body, _ = stack.deliver("issues", issue_payload(number, repo=REPO_NAME))
        assert st == 202, body
        m = ws.wait(lambda m: m.get("type") == "issue_update" and
                    m["data"]["issue"]["number"] == number, timeout=30)
        lat.append((ws.received_at[ws.messages.index(m)] - t0) * 1000)
    ws.close()
    med = statistics.median(lat)
    record("webhook_to_websocket_latency_median", deliveries=len(lat), median_ms=round(med, 1),
           max_ms=round(max(lat), 1))
    print(f"\nwebhook → WebSocket latency over {len(lat)}: median {med:.1f} ms, "
          f"max {max(lat):.1f} ms")
    assert med < 1000
