"""Test helpers around tests/fake_github/fake_github.py: a throw-away App
key pair, the fake as a child process with its control API, and the
github_call tool that drives the common C client.

Used by tests/integration/test_github_client.py and the write-back tests;
builds on tests/lib/daitest.py.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "lib"))

import daitest  # noqa: E402

FAKE = HERE / "fake_github.py"
PYTHON = os.environ.get("PYTHON", sys.executable or "/usr/bin/python3")
TOOL_DIR = Path(os.environ.get("DAI_TOOL_DIR", REPO / "build" / "tests"))
APP_ID = "424242"
SLUG = "dispatchai-test"
BOT = f"{SLUG}[bot]"


def app_key(directory):
    """Write a fresh RSA key as GitHub hands it out (PKCS#1 PEM); return its path."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = Path(directory) / "app.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
    return path


def app_jwt(key_path, app_id=APP_ID, iat_offset=-60, lifetime=600):
    """An App JWT signed with the key at key_path, as GitHub's docs describe."""
    import base64
    import time
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    now = int(time.time())
    head = b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    claims = b64(json.dumps({"iat": now + iat_offset, "exp": now + iat_offset + lifetime,
                             "iss": app_id}).encode())
    key = serialization.load_pem_private_key(Path(key_path).read_bytes(), None)
    sig = key.sign(f"{head}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{claims}.{b64(sig)}"


class FakeGitHub:
    """The fake GitHub REST API as a child process."""

    def __init__(self, key_path, *args):
        self.key_path = key_path
        self.args = list(args)
        self.proc = None
        self.port = None

    def start(self):
        self.proc = subprocess.Popen([PYTHON, str(FAKE), "--port", "0", "--app-id", APP_ID,
                                      "--private-key", str(self.key_path), "--slug", SLUG,
                                      *self.args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"listening on [\d.]+:(\d+)", line)
        if not m:
            self.proc.kill()
            raise RuntimeError(f"fake GitHub did not start: {line!r}")
        self.port = int(m.group(1))
        return self

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def _post(self, path, body):
        st, _, data = daitest.request("POST", self.url + path, body)
        assert st == 200, data
        return json.loads(data)

    def issue(self, repo, number, labels=(), title="", body="", installation=1):
        return self._post("/_fake/issue", {"repo": repo, "number": number, "labels": list(labels),
                                           "title": title, "body": body,
                                           "installation": installation})

    def person_labels(self, repo, number, add=(), remove=(), actor="maintainer"):
        return self._post("/_fake/label", {"repo": repo, "number": number, "add": list(add),
                                           "remove": list(remove), "actor": actor})

    def control(self, **knobs):
        return self._post("/_fake/control", knobs)

    def state(self):
        return daitest.get_json(self.url + "/_fake/state")[1]

    def labels(self, repo, number):
        return self.state()[f"{repo}#{number}"]["labels"]

    def requests(self):
        return daitest.get_json(self.url + "/_fake/requests")[1]

    def reset(self):
        self._post("/_fake/reset", {})

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()


def app_env(fake, key_path, **extra):
    """Environment selecting App authentication against the fake."""
    env = {"GITHUB_API_URL": fake.url, "GITHUB_APP_ID": APP_ID,
           "GITHUB_APP_PRIVATE_KEY_FILE": str(key_path)}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def github_call(env, commands, timeout=120):
    """Run tests' github_call with commands (lines); returns (answers, stats, stderr)."""
    full = dict(os.environ)
    for k in list(full):
        if k.startswith("GITHUB_"):
            del full[k]
    full.update(env)
    p = subprocess.run([str(TOOL_DIR / "github_call")], input="\n".join(commands) + "\n",
                       capture_output=True, text=True, env=full, timeout=timeout)
    assert p.returncode == 0, p.stderr
    lines = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    return lines[:-1], lines[-1]["stats"], p.stderr


def tmpdir():
    return tempfile.mkdtemp(prefix="dai-gh-")
