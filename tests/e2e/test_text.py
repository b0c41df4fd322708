"""End to end: a title and body with NUL characters (GitHub bodies can hold
\\u0000) go webhook → issues.raw → issues.enriched → REST → WebSocket, with
every NUL read as U+FFFD everywhere (the rule in docs/events.md, "NUL in
text"), never refused and never dead-lettered."""
import pytest

import daitest
from stack import Stack, comment_payload, issue_payload

REPO_NAME = "e2eorg/nul"
FFFD = "\ufffd"


@pytest.fixture
def stack(broker, topics):
    s = Stack(broker, topics).start()
    yield s
    codes = s.stop()
    assert all(c == 0 for c in codes.values()), f"unclean exit codes {codes}"


def test_nul_in_title_and_body_end_to_end(stack):
    number = 77
    title, body = "Crash\x00 when saving", "line one\x00line two\x00\x00end"
    want_title, want_body = title.replace("\x00", FFFD), body.replace("\x00", FFFD)
    ws = daitest.WSClient(f"ws://127.0.0.1:{stack.gateway.port}/ws",
                          subscribe={"repos": [REPO_NAME]})
    ws.wait(lambda m: m.get("type") == "hello", what="hello")

    st, resp, guid = stack.deliver("issues", issue_payload(number, title=title, body=body,
                                                           repo=REPO_NAME))
    assert st == 202, resp
    comment = comment_payload(number, "me\x00 too", repo=REPO_NAME)
    comment["issue"].update(title=title, body=body)
    st, resp, cguid = stack.deliver("issue_comment", comment)
    assert st == 202, resp

    # issues.raw carries the replacement already (the ingress applies the rule)
    raw = {m["value"]["delivery_id"]: m["value"] for m in stack.raw(expect=2)}
    assert raw[guid]["issue"]["title"] == want_title
    assert raw[guid]["issue"]["body"] == want_body
    assert raw[cguid]["comment"]["body"] == "me" + FFFD + " too"

    # classified (not dead-lettered), text intact on issues.enriched
    enriched = {m["value"]["delivery_id"]: m["value"] for m in stack.enriched(expect=2)}
    ev = enriched[guid]
    assert ev["issue"]["title"] == want_title and ev["issue"]["body"] == want_body
    assert ev["classification"]["source"] == "llm", ev["classification"]
    assert stack.llm.stats()["titles"] == {want_title: 1}

    # WebSocket and REST show the same text
    upd = ws.wait(lambda m: m.get("type") == "issue_update" and
                  m["data"]["delivery_id"] == guid, timeout=30, what="the opened update")
    assert upd["data"]["issue"]["title"] == want_title
    assert upd["data"]["issue"]["body"] == want_body
    daitest.schema_validator("enriched-event").validate(upd["data"])

    def view():
        st, v = daitest.get_json(f"{stack.gateway.url}/api/issues/{REPO_NAME}/{number}")
        return v if st == 200 and v["latest"]["delivery_id"] == cguid else None
    v = daitest.wait_for(view, timeout=30, what="the issue in the REST API")
    assert v["latest"]["issue"]["title"] == want_title
    assert v["latest"]["comment"]["body"] == "me" + FFFD + " too"
    st, listing = daitest.get_json(f"{stack.gateway.url}/api/issues?repo={REPO_NAME}")
    assert st == 200 and [i["issue"]["title"] for i in listing["items"]] == [want_title]
    ws.close()
