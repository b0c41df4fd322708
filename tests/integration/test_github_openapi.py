"""The fake GitHub against GitHub's published OpenAPI description (npm
@octokit/openapi, installed into the cache by scripts/install-deps.sh): every
endpoint our client calls exists with that method, and every request our
client sent and every answer the fake gave in a write-back-like session
validates against the operation's request and response schemas. So the fake
behaves like GitHub where our code depends on it, and our request shapes are
GitHub's."""
import json
import os
import re
import shutil
import sys
from pathlib import Path

import daitest
import jsonschema
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fake_github"))
import github_harness as harness  # noqa: E402

CACHE = Path(os.environ.get("DISPATCHAI_CACHE", Path.home() / ".cache" / "dispatchai"))
SPEC = CACHE / "octokit-openapi" / "node_modules" / "@octokit" / "openapi" / "generated" / \
    "api.github.com.deref.json"
REPO = "acme/app"

# (method, template) of everything the client and write-back call.
USED = [
    ("get", "/app"),
    ("post", "/app/installations/{installation_id}/access_tokens"),
    ("get", "/user"),
    ("get", "/repos/{owner}/{repo}/issues/{issue_number}/labels"),
    ("post", "/repos/{owner}/{repo}/issues/{issue_number}/labels"),
    ("delete", "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}"),
    ("get", "/repos/{owner}/{repo}/issues/{issue_number}/events"),
    ("get", "/repos/{owner}/{repo}/issues/{issue_number}"),
]


@pytest.fixture(scope="module")
def spec():
    if not SPEC.exists():
        pytest.fail(f"{SPEC} missing: run scripts/install-deps.sh (installs @octokit/openapi)")
    return json.loads(SPEC.read_text())


def to_json_schema(s):
    """OpenAPI 3.0 schema → JSON Schema: `nullable: true` becomes a null alternative."""
    if isinstance(s, list):
        return [to_json_schema(x) for x in s]
    if not isinstance(s, dict):
        return s
    out = {k: to_json_schema(v) for k, v in s.items() if k not in ("nullable", "example",
                                                                     "examples", "format")}
    if s.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def operation(spec, method, path):
    """The spec's operation for a concrete request path, and its template."""
    for tmpl, ops in spec["paths"].items():
        rx = "^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(tmpl)) + "$"
        if method in ops and re.match(rx, path):
            # The most specific template wins (…/labels/{name} vs …/labels).
            yield tmpl, ops[method]


def best(spec, method, path):
    found = sorted(operation(spec, method, path), key=lambda t: -len(t[0]))
    assert found, f"{method.upper()} {path} is not in GitHub's API description"
    return found[0]


def validate(schema, doc, what):
    try:
        jsonschema.validate(doc, to_json_schema(schema))
    except jsonschema.ValidationError as e:
        raise AssertionError(f"{what}: {e.message} at {list(e.absolute_path)}") from None


def test_endpoints_exist(spec):
    for method, tmpl in USED:
        assert method in spec["paths"].get(tmpl, {}), f"{method.upper()} {tmpl} not in the spec"
    # The client never replaces labels: the replacing operations exist, and are not ours.
    assert "put" in spec["paths"]["/repos/{owner}/{repo}/issues/{issue_number}/labels"]


def test_requests_and_answers_match_the_spec(spec):
    d = harness.tmpdir()
    key = harness.app_key(d)
    fake = harness.FakeGitHub(key).start()
    try:
        fake.issue(REPO, 3, labels=["help wanted"])
        fake.person_labels(REPO, 3, add=["bug"], actor="maintainer")
        env = harness.app_env(fake, key, GITHUB_CALL_INSTALLATION=1, GITHUB_WRITE_INTERVAL_MS=0)
        out, _, _ = harness.github_call(env, [
            "login",
            f"GET /repos/{REPO}/issues/3",
            f"GET /repos/{REPO}/issues/3/labels?per_page=100",
            f'POST /repos/{REPO}/issues/3/labels {{"labels":["priority: high","question"]}}',
            f"DELETE /repos/{REPO}/issues/3/labels/question",
            f"GET /repos/{REPO}/issues/3/events?per_page=100",
            f"GET /repos/{REPO}/issues/404/labels",
        ])
        answers = [o for o in out if "status" in o]
        assert [a["status"] for a in answers] == [200, 200, 200, 200, 200, 404]
        reqs = fake.requests()
        # Each request with a body against the operation's requestBody schema.
        checked = 0
        for r in reqs:
            tmpl, op = best(spec, r["method"].lower(), r["path"])
            if r["body"]:
                schema = op["requestBody"]["content"]["application/json"]["schema"]
                validate(schema, json.loads(r["body"]), f"request {r['method']} {tmpl}")
                checked += 1
        assert checked == 1
        # The token and /app answers, from a direct exchange with the fake.
        for r, a in zip([r for r in reqs if r["path"].startswith("/repos/")], answers):
            tmpl, op = best(spec, r["method"].lower(), r["path"])
            resp = op["responses"].get(str(a["status"]))
            assert resp, f"{r['method']} {tmpl} has no {a['status']} answer in the spec"
            content = resp.get("content", {}).get("application/json")
            if content and a["body"]:
                validate(content["schema"], json.loads(a["body"]),
                         f"answer {a['status']} to {r['method']} {tmpl}")
        # GET /app and the installation token, straight from the fake with a JWT.
        jwt = harness.app_jwt(key)
        for method, path, tmpl, status in [
                ("GET", "/app", "/app", 200),
                ("POST", "/app/installations/1/access_tokens",
                 "/app/installations/{installation_id}/access_tokens", 201)]:
            st, _, data = daitest.request(method, fake.url + path,
                                          headers={"Authorization": f"Bearer {jwt}",
                                                   "Accept": "application/vnd.github+json"})
            assert st == status, data
            schema = spec["paths"][tmpl][method.lower()]["responses"][str(status)]
            validate(schema["content"]["application/json"]["schema"], json.loads(data),
                     f"answer {status} to {method} {tmpl}")
        # A JWT GitHub would refuse: exp more than 10 minutes after iat.
        st, _, _ = daitest.request("GET", fake.url + "/app", headers={
            "Authorization": f"Bearer {harness.app_jwt(key, lifetime=660)}"})
        assert st == 401
    finally:
        fake.stop()
        shutil.rmtree(d, ignore_errors=True)
