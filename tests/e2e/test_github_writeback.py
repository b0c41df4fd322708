"""End to end: webhooks through ingress, classifier (fake LLM) and gateway
with write-back on, against the fake GitHub (tests/fake_github), which also
sends the labeled/unlabeled webhooks of every label change back to the
ingress, as GitHub does. Checks: labels land on the issue, a person's label
survives and becomes a human correction that is not reverted, a REST
correction moves the labels, our own echoes cause no writes, dry-run writes
nothing, retry-after is honoured, tokens are renewed across expiry, and a
replay by a fresh consumer group writes nothing twice."""
import json
import re
import shutil
import sys
import time
import uuid
from pathlib import Path

import pytest

import daitest
from stack import WRITE_TOKEN, Stack, issue_payload

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fake_github"))
import github_harness as gh_harness  # noqa: E402

REPO = "acme/widgets"


class GitHubStack(Stack):
    """The pipeline with the gateway writing back to a fake GitHub."""

    def __init__(self, broker, topics, fake, key, mode="on", **gw_env):
        super().__init__(broker, topics)
        self.fake = fake
        self.key = key
        self.mode = mode
        self.gw_env = gw_env

    def make_gateway(self, port=None, **extra):
        d = super().make_gateway(port)
        d.env.update(gh_harness.app_env(self.fake, self.key))
        d.env.update({"GITHUB_WRITEBACK": self.mode, "GITHUB_MIN_CONFIDENCE": "0.5",
                      "GITHUB_WRITE_INTERVAL": "200ms",
                      "GITHUB_TOKEN_REFRESH_MARGIN": "1s",
                      "GITHUB_WRITEBACK_GROUP": f"wb-{uuid.uuid4().hex[:8]}"})
        d.env.update({k: str(v) for k, v in self.gw_env.items()})
        d.env.update({k: str(v) for k, v in extra.items()})
        return d


def metric(daemon, name, **labels):
    st, _, body = daitest.request("GET", f"{daemon.url}/metrics")
    assert st == 200
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    total = 0.0
    for line in body.decode().splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        series, _, value = line.rpartition(" ")
        if series == name or (want and series.startswith(name + "{") and
                              all(f'{k}="{v}"' in series for k, v in labels.items())):
            total += float(value)
        elif not want and series.startswith(name + "{"):
            total += float(value)
    return total


def writes(fake):
    return [r for r in fake.requests() if r["method"] in ("POST", "DELETE", "PUT", "PATCH")
            and not r["path"].endswith("/access_tokens")]


def opened(number, title, installation=1):
    p = issue_payload(number, title=title, repo=REPO,
                      body="Steps to reproduce attached; it fails every time.")
    p["installation"] = {"id": installation, "node_id": "MDIz"}
    p["issue"]["labels"] = []
    return p


@pytest.fixture
def fake_github():
    d = gh_harness.tmpdir()
    key = gh_harness.app_key(d)
    fake = gh_harness.FakeGitHub(key).start()
    yield fake, key
    fake.stop()
    shutil.rmtree(d, ignore_errors=True)


def start(broker, topics, fake, key, **kw):
    s = GitHubStack(broker, topics, fake, key, **kw).start()
    fake.control(webhook_url=f"{s.ingress.url}/webhook/github", webhook_secret="e2e-webhook-secret-5f1c")
    return s


def wait_labels(fake, number, pred, what, timeout=60):
    """The issue's labels on the fake once pred(labels) holds."""
    def check():
        labels = fake.labels(REPO, number)
        return labels if pred(labels) else None
    return daitest.wait_for(check, timeout=timeout, what=what)


def test_labels_written_person_respected_corrections_both_ways(broker, topics, fake_github):
    fake, key = fake_github
    fake.control(token_lifetime=8)
    s = start(broker, topics, fake, key)
    try:
        fake.issue(REPO, 1, labels=["help wanted"], installation=1)
        t0 = time.monotonic()
        st, body, _ = s.deliver("issues", opened(1, "App crashes with a segfault when saving"))
        assert st == 202, body
        labels = wait_labels(fake, 1, lambda l: len(l) >= 3, "labels written")
        latency = time.monotonic() - t0
        cat_label = labels[1]
        prio = [l for l in labels if l.startswith("priority: ")]
        assert labels[0] == "help wanted" and len(prio) == 1, labels
        assert not [r for r in fake.requests() if r["method"] in ("PUT", "PATCH")]
        posts = [r for r in writes(fake) if r["method"] == "POST"]
        assert len(posts) == 1 and json.loads(posts[0]["body"]) == {"labels": labels[1:]}
        # Our writes come back as webhooks from our bot: counted, no writes.
        daitest.wait_for(lambda: metric(s.gateway, "dai_gateway_writeback_events_total",
                                        outcome="own_echo") >= 2, what="own echoes seen")
        n_writes = len(writes(fake))
        # docs/operations.md's write-back rows name families this gateway really exports.
        st, _, body = daitest.request("GET", f"{s.gateway.url}/metrics")
        exported = {l.split()[2] for l in body.decode().splitlines() if l.startswith("# TYPE ")}
        rows = [l for l in (daitest.REPO / "docs" / "operations.md").read_text().splitlines()
                if "only with write-back on" in l]
        documented = set(re.findall(r"`((?:dai|gateway)_[a-z_]*[a-z])[`{]", "\n".join(rows)))
        assert documented and not documented - exported, documented - exported

        # A person adds a taxonomy label: a human correction, visible at the
        # gateway; the bot's old category label goes, the person's stays.
        new_cat = "documentation" if cat_label != "documentation" else "question"
        fake.person_labels(REPO, 1, add=[new_cat], actor="maintainer")

        def corrected():
            st, v = daitest.get_json(f"{s.gateway.url}/api/issues/{REPO}/1")
            return st == 200 and v["latest"]["classification"]["source"] == "human" and v
        view = daitest.wait_for(corrected, what="human correction from a GitHub label")
        assert view["latest"]["classification"]["category"] == new_cat
        assert view["latest"]["classification"]["corrected_by"] == "github:maintainer"
        labels = wait_labels(fake, 1, lambda l: cat_label not in l, "bot label removed")
        assert new_cat in labels and "help wanted" in labels and prio[0] in labels

        # A person removes the bot's priority label; a new automatic
        # classification of the issue neither reverts the human category nor
        # re-adds the priority label.
        fake.person_labels(REPO, 1, remove=[prio[0]], actor="maintainer")
        daitest.wait_for(lambda: metric(s.gateway, "dai_gateway_writeback_events_total",
                                        outcome="person_label") >= 1, what="person's removal seen")
        before = metric(s.gateway, "dai_gateway_writeback_events_total")
        n_writes = len(writes(fake))
        edited = opened(1, "App crashes with a segfault when saving (still)")
        edited["action"] = "edited"
        edited["changes"] = {"title": {"from": "x"}}
        st, _, _ = s.deliver("issues", edited)
        assert st == 202
        daitest.wait_for(lambda: metric(s.gateway, "dai_gateway_writeback_events_total")
                         > before, what="edited event handled")
        assert len(writes(fake)) == n_writes
        assert prio[0] not in fake.labels(REPO, 1) and new_cat in fake.labels(REPO, 1)

        # A REST correction moves the labels: old category off (the person's
        # one is theirs: kept), new one on.
        st, _, data = daitest.request(
            "POST", f"{s.gateway.url}/api/issues/{REPO}/1/correction",
            {"category": "security", "priority": "critical"},
            headers={"Authorization": f"Bearer {WRITE_TOKEN}", "Content-Type": "application/json"})
        assert st in (200, 201, 202), data
        labels = wait_labels(fake, 1, lambda l: "security" in l and "priority: critical" in l,
                             "REST correction on GitHub")
        assert new_cat in labels and "help wanted" in labels, labels

        # Token renewal across expiry (lifetime 8 s): a second issue later.
        first_token_t = min(r["t"] for r in fake.requests() if r["path"].endswith("/access_tokens"))
        fake.issue(REPO, 2, installation=1)
        # Past the first token's refresh point (a quarter of 8 s before expiry).
        daitest.wait_for(lambda: time.time() > first_token_t + 7, timeout=20, interval=0.2,
                         what="the first token's refresh point")
        st, _, _ = s.deliver("issues", opened(2, "Add dark mode to the settings page"))
        assert st == 202
        wait_labels(fake, 2, lambda l: len(l) >= 2, "labels on issue 2")
        reqs = fake.requests()
        assert not [r for r in reqs if r.get("auth", "") and r["auth"].endswith(":expired")]
        tokens = [r for r in reqs if r["path"].endswith("/access_tokens")]
        assert len(tokens) >= 2
        jwt_claims = [r["jwt_claims"] for r in tokens]
        assert all(c["exp"] - c["iat"] <= 600 and c["iss"] == gh_harness.APP_ID for c in jwt_claims)

        figures = {"issues_written": 2, "latency_first_labels_s": round(latency, 2),
                   "github_requests": len([r for r in reqs if not r["path"].startswith("/app")]),
                   "token_requests": len(tokens),
                   "writes": len(writes(fake))}
        print("writeback figures:", json.dumps(figures))
    finally:
        codes = s.stop()
    assert all(c == 0 for c in codes.values()), codes


def test_dry_run_writes_nothing(broker, topics, fake_github):
    fake, key = fake_github
    s = start(broker, topics, fake, key, mode="dry-run")
    try:
        fake.issue(REPO, 5, labels=["help wanted"])
        st, _, _ = s.deliver("issues", opened(5, "App crashes with a segfault when saving"))
        assert st == 202
        daitest.wait_for(lambda: metric(s.gateway, "dai_gateway_writeback_dry_run_would_write_total")
                         >= 2, what="dry-run would-writes counted")
        assert writes(fake) == []
        assert fake.labels(REPO, 5) == ["help wanted"]
        assert 'would add label "priority: ' in s.gateway.logs()
        assert f'to {REPO}#5' in s.gateway.logs()
        # A repository webhook carries no installation: skipped, not retried.
        fake.issue(REPO, 6)
        p = opened(6, "App crashes with a segfault when saving")
        del p["installation"]
        st, _, _ = s.deliver("issues", p)
        assert st == 202
        daitest.wait_for(lambda: metric(s.gateway, "dai_gateway_writeback_events_total",
                                        outcome="no_installation") == 1,
                         what="event without installation skipped")
        assert not [r for r in fake.requests() if "/issues/6" in r["path"]]
    finally:
        s.stop()


def test_retry_after_and_replay_writes_nothing_twice(broker, topics, fake_github):
    fake, key = fake_github
    s = start(broker, topics, fake, key)
    try:
        fake.issue(REPO, 9)
        fake.control(secondary_next=1, secondary_retry_after=2)
        st, _, _ = s.deliver("issues", opened(9, "Crash on startup with a stack trace"))
        assert st == 202
        wait_labels(fake, 9, lambda l: len(l) >= 2, "labels after the secondary limit")
        limited = [r for r in fake.requests() if r["status"] == 403]
        assert len(limited) == 1
        after = [r for r in fake.requests() if r["t"] > limited[0]["t"]]
        assert after and after[0]["t"] - limited[0]["t"] >= 2.0
        assert metric(s.gateway, "dai_github_retry_waits_total", reason="retry_after") == 1
        # A person removes one of our labels.
        removed = fake.labels(REPO, 9)[0]
        fake.person_labels(REPO, 9, remove=[removed])
        daitest.wait_for(lambda: metric(s.gateway, "dai_gateway_writeback_events_total",
                                        outcome="person_label") >= 1, what="removal seen")
        daitest.wait_for(lambda: metric(s.gateway, "dai_gateway_writeback_events_total",
                                        outcome="own_echo") >= 2, what="echoes seen")
        n_enriched = len(s.enriched(expect=None, timeout=5))
        n_writes = len(writes(fake))
        # Restart the gateway with a fresh write-back group: it replays every
        # enriched event from the start, and writes nothing.
        s.gateway.stop()
        s.gateway = s.make_gateway(GITHUB_WRITEBACK_GROUP=f"wb-replay-{uuid.uuid4().hex[:6]}").start()
        daitest.wait_for(lambda: metric(s.gateway, "dai_gateway_writeback_events_total")
                         >= n_enriched, what="replay handled")
        assert len(writes(fake)) == n_writes
        assert removed not in fake.labels(REPO, 9)
    finally:
        s.stop()


def test_writeback_figures(broker, topics, fake_github):
    """One run's numbers: 20 issues written, GitHub requests per issue, token
    requests, retry waits (one secondary limit injected), echoes handled."""
    from stack import record
    fake, key = fake_github
    s = start(broker, topics, fake, key)
    n = 20
    titles = ["App crashes with a segfault when saving", "Add dark mode to the settings page",
              "Docs: the install guide misses a step", "How do I configure the proxy?",
              "XSS in the comment preview"]
    try:
        for i in range(n):
            fake.issue(REPO, 100 + i, labels=["needs triage"] if i % 2 else [])
        fake.control(secondary_next=1, secondary_retry_after=1)
        t0 = time.monotonic()
        for i in range(n):
            st, _, _ = s.deliver("issues", opened(100 + i, f"{titles[i % 5]} ({i})"))
            assert st == 202
        daitest.wait_for(lambda: all(any(l.startswith("priority: ") for l in fake.labels(REPO, 100 + i))
                                     for i in range(n)), timeout=120, what="all issues labelled")
        elapsed = time.monotonic() - t0
        written = metric(s.gateway, "dai_gateway_writeback_events_total", outcome="written")
        daitest.wait_for(lambda: metric(s.gateway, "dai_gateway_writeback_events_total",
                                        outcome="own_echo") >= 2 * n, timeout=120,
                         what="every echo seen")
        reqs = fake.requests()
        api = [r for r in reqs if r["path"].startswith("/repos/")]
        tokens = [r for r in reqs if r["path"].endswith("/access_tokens")]
        figures = {
            "issues": n, "issues_written": int(written),
            "github_requests": len(api),
            "requests_per_issue": round(len(api) / n, 2),
            "reads_per_issue": round(len([r for r in api if r["method"] == "GET"]) / n, 2),
            "writes_per_issue": round(len([r for r in api if r["method"] != "GET"]) / n, 2),
            "token_requests": len(tokens),
            "retry_waits": int(metric(s.gateway, "dai_github_retry_waits_total")),
            "retry_wait_seconds": metric(s.gateway, "dai_github_retry_wait_seconds_total"),
            "echo_webhooks_without_requests": int(metric(s.gateway,
                                                         "dai_gateway_writeback_events_total",
                                                         outcome="own_echo")),
            "seconds_to_label_all": round(elapsed, 1),
        }
        print("writeback figures:", json.dumps(figures))
        record("github_writeback", **figures)
        assert written == n and len(tokens) == 1
        assert figures["retry_waits"] == 1
        # The echoes cost nothing: every request is accounted for by the issues.
        assert len([r for r in api if r["method"] != "GET"]) == n
    finally:
        s.stop()


def test_single_comment_edited_in_place(broker, topics, fake_github):
    fake, key = fake_github
    s = start(broker, topics, fake, key, GITHUB_COMMENT="true")

    def comments():
        return fake.state()[f"{REPO}#20"]["comments"]
    try:
        fake.issue(REPO, 20)
        st, _, _ = s.deliver("issues", opened(20, "App crashes with a segfault when saving"))
        assert st == 202
        first = daitest.wait_for(lambda: comments(), what="the bot comment")
        assert len(first) == 1 and first[0]["user"]["login"] == gh_harness.BOT
        assert "<!-- dispatchai:classification -->" in first[0]["body"]
        st, _, data = daitest.request(
            "POST", f"{s.gateway.url}/api/issues/{REPO}/20/correction", {"category": "question"},
            headers={"Authorization": f"Bearer {WRITE_TOKEN}", "Content-Type": "application/json"})
        assert st in (200, 201, 202), data
        daitest.wait_for(lambda: "Set by a person" in comments()[0]["body"],
                         what="the comment edited")
        assert len(comments()) == 1
        assert "question" in fake.labels(REPO, 20)
        kinds = [(r["method"], r["path"].rsplit("/", 2)[-2]) for r in writes(fake)
                 if "comments" in r["path"]]
        assert kinds == [("POST", "20"), ("PATCH", "comments")], kinds
        # A replay by a fresh group: still one comment, nothing written.
        n_enriched = len(s.enriched(expect=None, timeout=5))
        n_writes = len(writes(fake))
        s.gateway.stop()
        s.gateway = s.make_gateway(GITHUB_WRITEBACK_GROUP=f"wb-replay-{uuid.uuid4().hex[:6]}").start()
        daitest.wait_for(lambda: metric(s.gateway, "dai_gateway_writeback_events_total")
                         >= n_enriched, what="replay handled")
        assert len(writes(fake)) == n_writes and len(comments()) == 1
    finally:
        s.stop()


def test_github_outage_delays_writeback_only(broker, topics, fake_github):
    """GitHub answering 502 to everything: the view, REST and /ready carry on;
    write-back retries, gives the issue up, and the partition moves on; a
    permanent 404 (issue gone) is counted and skipped."""
    fake, key = fake_github
    s = start(broker, topics, fake, key, GITHUB_MAX_RETRIES=1, GITHUB_WRITEBACK_ATTEMPTS=2,
              GITHUB_WRITEBACK_RETRY_DELAY="200ms")
    try:
        fake.issue(REPO, 30)
        fake.issue(REPO, 31)
        fake.control(fail5xx_next=1000)
        st, _, _ = s.deliver("issues", opened(30, "App crashes with a segfault when saving"))
        assert st == 202
        daitest.wait_for(lambda: daitest.get_json(f"{s.gateway.url}/api/issues/{REPO}/30")[0]
                         == 200, what="issue 30 in the view during the outage")
        st, _, _ = daitest.request("GET", f"{s.gateway.url}/ready")
        assert st == 200
        daitest.wait_for(lambda: metric(s.gateway, "dai_gateway_writeback_events_total",
                                        outcome="gave_up") == 1, what="issue 30 given up")
        assert fake.labels(REPO, 30) == []
        assert metric(s.gateway, "dai_github_retry_waits_total", reason="transient") >= 2
        fake.control(fail5xx_next=0)
        # Gone on GitHub: a permanent error, skipped; the next issue is written.
        st, _, _ = s.deliver("issues", opened(404, "App crashes with a segfault when saving"))
        st, _, _ = s.deliver("issues", opened(31, "App crashes with a segfault when saving"))
        wait_labels(fake, 31, lambda l: len(l) >= 2, "issue 31 written after the outage")
        daitest.wait_for(lambda: metric(s.gateway, "dai_gateway_writeback_events_total",
                                        outcome="permanent_error") == 1, what="404 skipped")
    finally:
        s.stop()
