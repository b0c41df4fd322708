"""The developer and operator tools around the stack: scripts/send-webhook (signing, delivery
ids, payload edits, where it sends), scripts/kafka-fmt (record rendering) and
scripts/kafka-tool (topic layout, console, describe, consumer groups, replay) against the
session's real broker with topics of their own."""
import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import daitest

REPO = daitest.REPO
SEND = REPO / "scripts" / "send-webhook"
KTOOL = REPO / "scripts" / "kafka-tool"
KFMT = REPO / "scripts" / "kafka-fmt"
SAMPLES = REPO / "scripts" / "samples"


# ---- a stand-in ingress that records what it is sent ----------------------------------------

class Recorder:
    def __init__(self, status=202, answer=b'{"status":"accepted"}'):
        self.requests = []
        self.status = status
        self.answer = answer
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                rec.requests.append({"path": self.path, "headers": dict(self.headers),
                                     "body": self.rfile.read(n)})
                self.send_response(rec.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(rec.answer)))
                self.end_headers()
                self.wfile.write(rec.answer)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/webhook/github"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder():
    r = Recorder()
    yield r
    r.close()


@pytest.fixture
def env_file(tmp_path):
    secret = "dev-" + uuid.uuid4().hex
    p = tmp_path / "dev.env"
    p.write_text(f"# test settings\nLOG_LEVEL=info\nGITHUB_WEBHOOK_SECRET=\"{secret}\"\n")
    return p, secret


def send(*args, env_extra=None, env_file=None):
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_WEBHOOK_SECRET"}
    env["DEV_RUN_DIR"] = str(daitest.RUN_DIR / "no-such-stack")
    if env_file:
        env["DEV_ENV_FILE"] = str(env_file)
    env.update(env_extra or {})
    return subprocess.run([str(SEND), *args], capture_output=True, text=True, env=env, timeout=30)


def valid_sig(secret, body, header):
    return header == "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_send_webhook_signs_the_exact_sample_with_the_env_file_secret(recorder, env_file):
    path, secret = env_file
    r1 = send("--url", recorder.url, env_file=path)
    r2 = send("--url", recorder.url, env_file=path)
    assert r1.returncode == 0 and r2.returncode == 0, r1.stderr + r2.stderr
    assert '"accepted"' in r1.stdout
    a, b = recorder.requests
    assert a["path"] == "/webhook/github"
    assert a["body"] == (SAMPLES / "issues.opened.json").read_bytes()  # sent byte for byte
    assert a["headers"]["X-GitHub-Event"] == "issues"
    assert a["headers"]["Content-Type"] == "application/json"
    assert a["headers"]["X-GitHub-Hook-ID"]
    assert valid_sig(secret, a["body"], a["headers"]["X-Hub-Signature-256"])
    # A new delivery GUID every time.
    ids = {uuid.UUID(x["headers"]["X-GitHub-Delivery"]) for x in (a, b)}
    assert len(ids) == 2


def test_send_webhook_edits_action_number_and_title_and_signs_the_result(recorder, env_file):
    path, secret = env_file
    r = send("--url", recorder.url, "--action", "reopened", "--number", "9871",
             "--title", "Flaky checkout ✓", "--delivery", "11111111-2222-3333-4444-555555555555",
             env_file=path)
    assert r.returncode == 0, r.stderr
    req = recorder.requests[0]
    body = json.loads(req["body"])
    assert body["action"] == "reopened"
    assert body["issue"]["number"] == 9871
    assert body["issue"]["title"] == "Flaky checkout ✓"
    assert body["issue"]["html_url"].endswith("/issues/9871")
    assert req["headers"]["X-GitHub-Delivery"] == "11111111-2222-3333-4444-555555555555"
    assert valid_sig(secret, req["body"], req["headers"]["X-Hub-Signature-256"])


def test_send_webhook_form_encoding_and_other_events(recorder, env_file):
    path, secret = env_file
    assert send("--url", recorder.url, "--form", "--event", "pull_request", env_file=path).returncode == 0
    assert send("--url", recorder.url, "--event", "issue_comment", env_file=path).returncode == 0
    assert send("--url", recorder.url, "--event", "ping", env_file=path).returncode == 0
    form, comment, ping = recorder.requests
    assert form["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert valid_sig(secret, form["body"], form["headers"]["X-Hub-Signature-256"])
    payload = urllib.parse.parse_qs(form["body"].decode())["payload"][0]
    assert json.loads(payload)["pull_request"]["number"] == 416
    assert comment["headers"]["X-GitHub-Event"] == "issue_comment"
    assert json.loads(comment["body"])["comment"]["body"]
    assert ping["headers"]["X-GitHub-Event"] == "ping"
    assert "zen" in json.loads(ping["body"])


def test_send_webhook_fails_on_a_rejection_and_without_a_secret(recorder, tmp_path):
    recorder.status, recorder.answer = 401, b'{"error":{"code":"bad_signature","message":"no"}}'
    r = send("--url", recorder.url, "--secret", "wrong")
    assert r.returncode == 1
    assert "bad_signature" in r.stdout and "HTTP 401" in r.stderr
    empty = tmp_path / "empty.env"
    empty.write_text("LOG_LEVEL=debug\n")
    r = send("--url", recorder.url, env_file=empty)
    assert r.returncode == 2 and "no secret" in r.stderr
    assert len(recorder.requests) == 1  # nothing was sent without a secret


def test_send_webhook_finds_the_running_stack(recorder, env_file, tmp_path):
    path, secret = env_file
    run = tmp_path / "run"
    run.mkdir()
    (run / "dev-stack.env").write_text(f"DEV_MODE=native\nINGRESS_URL=http://127.0.0.1:{recorder.port}\n")
    r = send(env_file=path, env_extra={"DEV_RUN_DIR": str(run)})
    assert r.returncode == 0, r.stderr
    assert recorder.requests[0]["path"] == "/webhook/github"


def test_samples_are_realistic_github_payloads():
    names = sorted(p.name for p in SAMPLES.glob("*.json"))
    assert {"issues.opened.json", "issue_comment.created.json", "pull_request.opened.json",
            "ping.json"} <= set(names)
    for name in names:
        d = json.loads((SAMPLES / name).read_text())
        assert d["repository"]["full_name"] == "acme/storefront"
        assert d["sender"]["login"]
        if name.startswith("issues."):
            assert d["action"] == name.split(".")[1]
            assert {"number", "title", "body", "state", "labels", "user", "html_url"} <= set(d["issue"])
        # GitHub's issues payloads are ~12 KB at the median, pull requests ~24 KB.
        if name.startswith(("issues.", "issue_comment")):
            assert 8000 < (SAMPLES / name).stat().st_size < 20000
        if name.startswith("pull_request"):
            assert 20000 < (SAMPLES / name).stat().st_size < 40000


# ---- kafka-fmt ---------------------------------------------------------------------------------

def test_kafka_fmt_renders_kcat_and_rpk_records_newest_last():
    kcat = {"topic": "t", "partition": 1, "offset": 7, "ts": 1700000000500,
            "headers": ["x-github-event", "issues", "schema-version", "1"],
            "key": "acme/storefront:issue:412", "payload": json.dumps({"a": {"b": 1}})}
    rpk = {"topic": "t", "partition": 0, "offset": 3, "timestamp": 1700000000000,
           "headers": [{"key": "dlq-reason", "value": "invalid_json"}],
           "key": "k2", "value": "not json"}
    older = dict(kcat, offset=1, ts=1600000000000, key="old")
    stream = json.dumps(kcat) + "\n" + json.dumps(rpk, indent=2) + json.dumps(older)
    r = subprocess.run([str(KFMT), "--last", "2"], input=stream, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "old" not in out                       # --last keeps the newest two
    assert out.index("k2") < out.index("acme/storefront:issue:412")  # oldest first
    assert "--- t [1] @7  2023-11-14T22:13:20.500Z" in out
    assert "headers: x-github-event=issues, schema-version=1" in out
    assert "headers: dlq-reason=invalid_json" in out
    assert '{\n  "a": {\n    "b": 1\n  }\n}' in out   # pretty JSON values
    assert "\nnot json\n" in out                       # non-JSON values as text
    assert "(2 records)" in r.stderr


# ---- kafka-tool against the real broker --------------------------------------------------------

def ktool(broker, topics, *args, env_extra=None, timeout=120):
    env = dict(os.environ)
    env.update(topics)
    env["KAFKA_TOOL_BACKEND"] = "native"
    env["DEV_RUN_DIR"] = str(daitest.RUN_DIR / "no-such-stack")
    env.update(env_extra or {})
    return subprocess.run([str(KTOOL), "--bootstrap", broker.bootstrap, *args],
                          capture_output=True, text=True, env=env, timeout=timeout)


def topic_configs(broker):
    """Every topic's dynamic configuration, in one CLI run: {topic: {key: value}}."""
    r = subprocess.run([str(REPO / "scripts" / "kafka-local"), "tool", "kafka.admin.ConfigCommand",
                        "--bootstrap-server", broker.bootstrap, "--describe", "--entity-type",
                        "topics"], capture_output=True, text=True, timeout=60)
    out, topic = {}, None
    for line in r.stdout.splitlines():
        m = re.match(r"Dynamic configs for topic (\S+) are:", line)
        if m:
            topic = m.group(1)
            out[topic] = {}
            continue
        m = re.match(r"\s+([a-z.]+)=(\S+) sensitive", line)
        if m and topic:
            out[topic][m.group(1)] = m.group(2)
    return out


def partitions(broker, topic):
    r = subprocess.run(["kcat", "-b", broker.bootstrap, "-L", "-t", topic], capture_output=True,
                       text=True, timeout=30)
    m = re.search(rf'topic "{re.escape(topic)}" with (\d+) partitions', r.stdout)
    return int(m.group(1)) if m else 0


def test_kafka_tool_creates_topics_with_their_retention_and_repairs_it(broker, topics):
    raw, enriched, dlq = (topics[k] for k in ("KAFKA_TOPIC_RAW_ISSUES", "KAFKA_TOPIC_ENRICHED_ISSUES",
                                               "KAFKA_TOPIC_DLQ"))
    r = ktool(broker, topics, "create-topics")
    assert r.returncode == 0, r.stdout + r.stderr
    assert all(partitions(broker, t) == 3 for t in (raw, enriched, dlq))
    conf = topic_configs(broker)
    assert conf[raw]["retention.ms"] == "604800000"
    assert conf[enriched]["retention.ms"] == "-1"
    assert conf[dlq]["retention.ms"] == "2592000000"
    # Someone shortened the enriched topic's retention: running it again puts it back.
    subprocess.run([str(REPO / "scripts" / "kafka-local"), "tool", "kafka.admin.ConfigCommand",
                    "--bootstrap-server", broker.bootstrap, "--alter", "--entity-type", "topics",
                    "--entity-name", enriched, "--add-config", "retention.ms=1000"],
                   check=True, capture_output=True, timeout=60)
    assert topic_configs(broker)[enriched]["retention.ms"] == "1000"
    r = ktool(broker, topics, "create-topics")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{enriched} exists; retention.ms=-1" in r.stderr
    assert topic_configs(broker)[enriched]["retention.ms"] == "-1"


def test_kafka_tool_console_topics_and_describe(broker, topics):
    t = topics["KAFKA_TOPIC_RAW_ISSUES"]
    broker.create_topics(t)
    for i in range(1, 4):
        daitest.produce(broker.bootstrap, t, f"acme/storefront:issue:{i}",
                        {"n": i, "nested": {"title": f"issue {i}"}},
                        headers={"x-github-event": "issues", "schema-version": "1"})
    r = ktool(broker, topics, "console", t, "2")
    assert r.returncode == 0, r.stderr
    assert "acme/storefront:issue:1" not in r.stdout
    assert r.stdout.index("acme/storefront:issue:2") < r.stdout.index("acme/storefront:issue:3")
    assert "headers: x-github-event=issues, schema-version=1" in r.stdout
    assert '\n  "nested": {\n    "title": "issue 3"\n  }' in r.stdout

    r = ktool(broker, topics, "topics")
    assert r.returncode == 0, r.stderr
    assert re.search(rf"^{re.escape(t)}\s+3\s+3$", r.stdout, re.M), r.stdout

    r = ktool(broker, topics, "describe", t)
    assert r.returncode == 0, r.stderr
    assert "PartitionCount: 3" in r.stdout and "retention.ms=" in r.stdout
    ends = re.findall(r"^\s+(\d)\s+(\d+)\s+(\d+)\s+(\d+)$", r.stdout, re.M)
    assert len(ends) == 3 and sum(int(e[3]) for e in ends) == 3

    r = ktool(broker, topics, "console", "no-such-topic-" + uuid.uuid4().hex[:6])
    assert r.returncode != 0 and "no topic" in r.stderr


def group_offsets(broker, topics, group):
    r = ktool(broker, topics, "group", group)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout, {int(p): int(c) for p, c in re.findall(
        rf"^{re.escape(group)}\s+\S+\s+(\d+)\s+(\d+)\s+\d+\s+\d+", r.stdout, re.M)}


def test_kafka_tool_replay_refuses_an_active_group_then_rewinds_a_stopped_one(broker, topics):
    t = topics["KAFKA_TOPIC_RAW_ISSUES"]
    group = "replay-" + uuid.uuid4().hex[:8]
    broker.create_topics(t)
    for i in range(6):
        daitest.produce(broker.bootstrap, t, f"k{i}", {"i": i})
    # A live member of the group (kcat's balanced consumer commits what it reads).
    member = subprocess.Popen(["kcat", "-b", broker.bootstrap, "-G", group, t, "-q",
                               "-X", "auto.commit.interval.ms=100",
                               "-X", "auto.offset.reset=earliest", "-X", "session.timeout.ms=6000"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        daitest.wait_for(lambda: sum(group_offsets(broker, topics, group)[1].values()) == 6,
                         timeout=60, interval=0.5, what="the member to commit every offset")
        out, _ = group_offsets(broker, topics, group)
        assert "Stable" in out and "rdkafka" in out  # state and members are shown
        r = ktool(broker, topics, "replay", t, "earliest", group)
        assert r.returncode == 1
        assert "active members" in r.stderr and "Stable" in r.stderr
    finally:
        member.send_signal(signal.SIGINT)  # kcat leaves the group on ^C
        member.wait(timeout=30)
    daitest.wait_for(lambda: ktool(broker, topics, "replay", t, "earliest", group,
                                   env_extra={"DRY_RUN": "1"}).returncode == 0,
                     timeout=60, interval=1, what="the group to become empty")
    assert sum(group_offsets(broker, topics, group)[1].values()) == 6  # a dry run moves nothing

    r = ktool(broker, topics, "replay", t, "earliest", group)
    assert r.returncode == 0, r.stderr
    assert set(group_offsets(broker, topics, group)[1].values()) == {0}

    r = ktool(broker, topics, "replay", t, "latest", group)
    assert r.returncode == 0, r.stderr
    assert sum(group_offsets(broker, topics, group)[1].values()) == 6

    # A time: everything was produced within the last hour.
    r = ktool(broker, topics, "replay", t, "1h", group)
    assert r.returncode == 0, r.stderr
    assert set(group_offsets(broker, topics, group)[1].values()) == {0}

    r = ktool(broker, topics, "replay", t, "not-a-time", group)
    assert r.returncode != 0 and "is not an offset" in r.stderr
