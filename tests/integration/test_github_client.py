"""The common GitHub client (common/src/github_*.c) through tests' github_call
against tests/fake_github: App JWT accepted by a verifier holding only the
public key, one installation token reused until its refresh point and renewed
across expiry (and after a 401), GitHub's headers, retry-after and 5xx
retries honoured, writes spaced per installation, ETag 304s, secrets kept
out of the log."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fake_github"))
import github_harness as harness  # noqa: E402

REPO = "acme/app"


@pytest.fixture
def gh():
    d = harness.tmpdir()
    key = harness.app_key(d)
    fake = harness.FakeGitHub(key).start()
    fake.issue(REPO, 7, labels=["help wanted"])
    yield fake, key
    fake.stop()
    shutil.rmtree(d, ignore_errors=True)


def test_app_login_and_token_reuse(gh):
    fake, key = gh
    env = harness.app_env(fake, key, GITHUB_CALL_INSTALLATION=1)
    out, stats, err = harness.github_call(env, ["login"] + [f"GET /repos/{REPO}/issues/7/labels"] * 5)
    assert out[0] == {"rc": 0, "login": harness.BOT, "err": ""}
    assert [o["status"] for o in out[1:]] == [200] * 5
    assert stats["token_requests"] == 1
    reqs = fake.requests()
    assert reqs[0]["path"] == "/app" and reqs[0]["auth"] == "jwt" and reqs[0]["status"] == 200
    claims = reqs[0]["jwt_claims"]
    assert claims["iss"] == harness.APP_ID and claims["exp"] - claims["iat"] <= 600
    assert claims["iat"] <= time.time() - 55
    tok = [r for r in reqs if r["path"].endswith("/access_tokens")]
    assert len(tok) == 1 and tok[0]["path"] == "/app/installations/1/access_tokens"
    for r in reqs:
        assert r["accept"] == "application/vnd.github+json"
        assert r["api_version"] == "2022-11-28"
        assert r["user_agent"].startswith("DispatchAI/")
    # The installation token never reaches the log.
    assert "ghs_" not in err


def test_wrong_key_is_refused(gh):
    fake, _ = gh
    other = harness.app_key(harness.tmpdir())
    env = harness.app_env(fake, other, GITHUB_CALL_INSTALLATION=1)
    out, stats, _ = harness.github_call(env, ["login", f"GET /repos/{REPO}/issues/7/labels"])
    assert out[0]["rc"] != 0 and "401" in out[0]["err"]
    assert out[1]["rc"] != 0
    assert all(r["status"] == 401 for r in fake.requests())


def test_token_renewed_before_and_after_expiry(gh):
    fake, key = gh
    fake.control(token_lifetime=4)
    env = harness.app_env(fake, key, GITHUB_CALL_INSTALLATION=1, GITHUB_TOKEN_REFRESH_MARGIN_MS=0)
    # A quarter of 4 s is 1 s: the token is used for ~3 s, then renewed.
    cmds = [f"GET /repos/{REPO}/issues/7/labels", "sleep 1000",
            f"GET /repos/{REPO}/issues/7/labels", "sleep 2500",
            f"GET /repos/{REPO}/issues/7/labels"]
    out, stats, _ = harness.github_call(env, cmds)
    assert [o.get("status") for o in out if "status" in o] == [200, 200, 200]
    assert stats["token_requests"] == 2
    reqs = [r for r in fake.requests() if r["path"].endswith("/labels")]
    assert all(not r["auth"].endswith(":expired") for r in reqs)
    assert reqs[0]["token_id"] == reqs[1]["token_id"] != reqs[2]["token_id"]


def test_expired_token_401_renews_once(gh):
    fake, key = gh
    env = harness.app_env(fake, key, GITHUB_CALL_INSTALLATION=1)
    # The token expires on the fake's side while the client still holds it:
    # the 401 makes the client fetch a new one and repeat the request once.
    full = dict(os.environ)
    full.update(env)
    p = subprocess.Popen([str(harness.TOOL_DIR / "github_call")], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full)
    p.stdin.write(f"GET /repos/{REPO}/issues/7/labels\n")
    p.stdin.flush()
    first = json.loads(p.stdout.readline())
    fake.control(expire_tokens=True)
    p.stdin.write(f"GET /repos/{REPO}/issues/7/labels\n")
    p.stdin.close()
    second = json.loads(p.stdout.readline())
    stats = json.loads(p.stdout.readline())["stats"]
    err = p.stderr.read()
    p.wait(timeout=30)
    assert first["status"] == 200 and second["status"] == 200
    assert stats["token_requests"] == 2
    labels = [r for r in fake.requests() if r["path"].endswith("/labels")]
    assert [r["status"] for r in labels] == [200, 401, 200]
    assert labels[1]["auth"].endswith(":expired")
    assert "renewing the installation token" in err


def test_retry_after_honoured(gh):
    fake, key = gh
    fake.control(secondary_next=1, secondary_retry_after=2)
    env = harness.app_env(fake, key, GITHUB_CALL_INSTALLATION=1)
    out, stats, err = harness.github_call(env, [f'POST /repos/{REPO}/issues/7/labels '
                                                '{"labels":["bug"]}'])
    assert out[0]["status"] == 200 and out[0]["waits"] == 1
    assert out[0]["ms"] >= 2000
    posts = [r for r in fake.requests() if r["method"] == "POST" and "labels" in r["path"]]
    assert [p["status"] for p in posts] == [403, 200]
    assert posts[1]["t"] - posts[0]["t"] >= 2.0
    assert "reason=retry_after" in err
    assert fake.labels(REPO, 7) == ["help wanted", "bug"]


def test_5xx_retried_with_backoff(gh):
    fake, key = gh
    fake.control(fail5xx_next=2)
    env = harness.app_env(fake, key, GITHUB_CALL_INSTALLATION=1)
    out, stats, _ = harness.github_call(env, [f"GET /repos/{REPO}/issues/7/labels"])
    assert out[0]["status"] == 200 and out[0]["waits"] == 2
    gets = [r for r in fake.requests() if r["path"].endswith("/labels")]
    assert [g["status"] for g in gets] == [502, 502, 200]
    assert gets[1]["t"] - gets[0]["t"] >= 0.25 and gets[2]["t"] - gets[1]["t"] >= 0.5


def test_permanent_errors_not_retried(gh):
    fake, key = gh
    env = harness.app_env(fake, key, GITHUB_CALL_INSTALLATION=1)
    out, stats, _ = harness.github_call(env, [f"GET /repos/{REPO}/issues/999/labels",
                                              f'POST /repos/{REPO}/issues/7/labels {{"labels":[]}}'])
    assert [(o["rc"], o["status"], o["waits"]) for o in out] == [(0, 404, 0), (0, 422, 0)]


def test_writes_spaced_and_etag_304(gh):
    fake, key = gh
    env = harness.app_env(fake, key, GITHUB_CALL_INSTALLATION=1, GITHUB_WRITE_INTERVAL_MS=700)
    out, _, _ = harness.github_call(env, [f"GET /repos/{REPO}/issues/7/labels"])
    etag = out[0]["etag"]
    assert etag.startswith('W/"')
    out, _, _ = harness.github_call(env, [
        f"GET /repos/{REPO}/issues/7/labels|{etag}",
        f'POST /repos/{REPO}/issues/7/labels {{"labels":["bug"]}}',
        f"DELETE /repos/{REPO}/issues/7/labels/bug",
        f'POST /repos/{REPO}/issues/7/labels {{"labels":["priority: high"]}}',
        f"DELETE /repos/{REPO}/issues/7/labels/priority%3A%20high",
        f"GET /repos/{REPO}/issues/7/labels|{etag}"])
    assert [o["status"] for o in out] == [304, 200, 200, 200, 200, 304]
    writes = [r for r in fake.requests() if r["method"] != "GET"
              and not r["path"].endswith("access_tokens")]
    gaps = [b["t"] - a["t"] for a, b in zip(writes, writes[1:])]
    assert len(gaps) == 3 and min(gaps) >= 0.69, gaps
    assert fake.labels(REPO, 7) == ["help wanted"]


def test_personal_token_and_user_login(gh):
    fake, key = gh
    fake.stop()
    fake2 = harness.FakeGitHub(key, "--pat", "github_pat_abcdef123456:octo-bot").start()
    try:
        fake2.issue(REPO, 7)
        env = {"GITHUB_API_URL": fake2.url, "GITHUB_TOKEN": "github_pat_abcdef123456"}
        out, stats, err = harness.github_call(env, ["login", f"GET /repos/{REPO}/issues/7/labels"])
        assert out[0]["login"] == "octo-bot" and out[1]["status"] == 200
        assert stats["token_requests"] == 0
        assert "github_pat_abcdef123456" not in err
    finally:
        fake2.stop()
