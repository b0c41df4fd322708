#!/usr/bin/env python3
"""A fake GitHub REST API for DispatchAI's tests, behaving like the real one
where our client depends on it.

Owns: App authentication (RS256 JWT verified against the App's public key,
iat/exp checked as GitHub does), installation tokens that really expire and
are refused with 401 afterwards, personal tokens, x-ratelimit-* headers on
every answer (304s cost nothing), secondary-limit 403s with or without
retry-after on demand, issues with labels, label events and comments in
memory with the real endpoints' request/response shapes, and a record of
every request. Optionally it delivers `issues` labeled/unlabeled webhooks
(signed) for every label change, as GitHub does — also for our own writes.

Endpoints: GET /app, POST /app/installations/{id}/access_tokens, GET /user,
GET /repos/{o}/{r}/issues/{n}, GET|POST|PUT /repos/{o}/{r}/issues/{n}/labels,
DELETE /repos/{o}/{r}/issues/{n}/labels/{name}, GET .../issues/{n}/events,
GET|POST .../issues/{n}/comments, PATCH /repos/{o}/{r}/issues/comments/{id}.

Control (no auth), JSON bodies:
  POST /_fake/issue {repo, number, title, body, labels[]}   create/replace an issue
  POST /_fake/label {repo, number, add|remove, actor}        a person edits labels
  POST /_fake/control {expire_tokens, secondary_next, secondary_retry_after, fail5xx_next,
                       token_lifetime, webhook_url, webhook_secret, rate_limit}
  GET  /_fake/state    issues with labels, events, comments
  GET  /_fake/requests every request recorded; POST /_fake/reset clears them

Usage: fake_github.py --app-id N --private-key PEM [--slug S] [--pat TOKEN:LOGIN]
prints "fake-github listening on 127.0.0.1:PORT".
"""
import argparse
import base64
import hashlib
import hmac
import json
import re
import secrets
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

DOCS = "https://docs.github.com/rest"
SECONDARY_MSG = ("You have exceeded a secondary rate limit and have been temporarily blocked "
                 "from content creation. Please retry your request again later.")


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class State:
    def __init__(self, args):
        self.lock = threading.RLock()
        self.app_id = str(args.app_id)
        self.slug = args.slug
        with open(args.private_key, "rb") as f:
            self.public_key = serialization.load_pem_private_key(f.read(), None).public_key()
        self.pats = {}
        for spec in args.pat or []:
            tok, login = spec.split(":", 1)
            self.pats[tok] = login
        self.token_lifetime = 3600
        self.tokens = {}          # token -> (installation id, expires epoch)
        self.issues = {}          # (repo, number) -> dict
        self.next_id = 1000
        self.requests = []
        self.secondary_next = 0
        self.secondary_retry_after = 1
        self.fail5xx_next = 0
        self.rate_limit = 5000
        self.quota = {}           # principal -> [remaining, reset]
        self.webhook_url = None
        self.webhook_secret = ""

    def nid(self):
        self.next_id += 1
        return self.next_id

    @property
    def bot(self):
        return user_obj(f"{self.slug}[bot]", 900000 + int(self.app_id), "Bot")


def user_obj(login, uid, kind="User"):
    """A "simple user" object with every member GitHub's description requires."""
    u = f"https://api.github.com/users/{urllib.parse.quote(login)}"
    return {"login": login, "id": uid, "node_id": f"U_{uid}", "type": kind,
            "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4", "gravatar_id": "",
            "url": u, "html_url": f"https://github.com/{urllib.parse.quote(login)}",
            "followers_url": u + "/followers", "following_url": u + "/following{/other_user}",
            "gists_url": u + "/gists{/gist_id}", "starred_url": u + "/starred{/owner}{/repo}",
            "subscriptions_url": u + "/subscriptions", "organizations_url": u + "/orgs",
            "repos_url": u + "/repos", "events_url": u + "/events{/privacy}",
            "received_events_url": u + "/received_events", "site_admin": False}


def label_obj(repo, name):
    h = hashlib.sha1(name.encode()).hexdigest()
    return {"id": int(h[:8], 16), "node_id": "LA_" + h[:12],
            "url": f"https://api.github.com/repos/{repo}/labels/{urllib.parse.quote(name)}",
            "name": name, "color": h[:6], "default": name in (
                "bug", "documentation", "duplicate", "enhancement", "good first issue",
                "help wanted", "invalid", "question", "wontfix"),
            "description": None}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-github"

    def log_message(self, fmt, *a):
        pass

    # ---- plumbing ---------------------------------------------------------
    @property
    def st(self):
        return self.server.state

    def reply(self, status, body=None, headers=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)
        self.rec["status"] = status

    def error(self, status, message, headers=None):
        self.reply(status, {"message": message, "documentation_url": DOCS,
                            "status": str(status)}, headers)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def handle_any(self, method):
        url = urllib.parse.urlsplit(self.path)
        raw = self.read_body()
        self.rec = {"t": time.time(), "method": method, "path": url.path, "query": url.query,
                    "accept": self.headers.get("Accept"),
                    "api_version": self.headers.get("X-GitHub-Api-Version"),
                    "user_agent": self.headers.get("User-Agent"),
                    "content_type": self.headers.get("Content-Type"),
                    "if_none_match": self.headers.get("If-None-Match"),
                    "body": raw.decode("utf-8", "replace"), "auth": None, "status": None}
        if url.path.startswith("/_fake/"):
            return self.control(method, url, raw)
        with self.st.lock:
            self.st.requests.append(self.rec)
        try:
            self.body = json.loads(raw) if raw else None
        except ValueError:
            return self.error(400, "Problems parsing JSON")
        try:
            self.route(method, url)
        except Exception as e:  # a bug in the fake must show, not hang the client
            self.error(500, f"fake-github: {e!r}")

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_DELETE(self):
        self.handle_any("DELETE")

    # ---- authentication ---------------------------------------------------
    def bearer(self):
        h = self.headers.get("Authorization") or ""
        m = re.match(r"(?i)(bearer|token)\s+(\S+)$", h)
        return m.group(2) if m else None

    def check_jwt(self):
        """None when the App JWT is valid, else the reason (401)."""
        tok = self.bearer()
        self.rec["auth"] = "jwt"
        if not tok or tok.count(".") != 2:
            return "A JSON web token could not be decoded"
        h, c, s = tok.split(".")
        try:
            hdr = json.loads(b64url_decode(h))
            claims = json.loads(b64url_decode(c))
            sig = b64url_decode(s)
        except ValueError:
            return "A JSON web token could not be decoded"
        if hdr.get("alg") != "RS256":
            return "'alg' must be RS256"
        try:
            self.st.public_key.verify(sig, f"{h}.{c}".encode(), padding.PKCS1v15(),
                                      hashes.SHA256())
        except InvalidSignature:
            return "A JSON web token could not be decoded"
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int):
            return "'Issued at' claim ('iat') must be an Integer representing the time"
        if iat > now + 1:
            return "'Issued at' claim ('iat') must be an Integer representing a time in the past"
        if exp <= now:
            return "'Expiration time' claim ('exp') must be a numeric value representing the future time"
        if exp - iat > 600 or exp > now + 600:
            return "'Expiration time' claim ('exp') is too far in the future"
        if str(claims.get("iss")) != self.st.app_id:
            return "Integration not found"
        self.rec["jwt_claims"] = claims
        return None

    def principal(self):
        """('installation', id) / ('user', login), or None after a 401 was sent."""
        tok = self.bearer()
        with self.st.lock:
            if tok in self.st.pats:
                self.rec["auth"] = "pat"
                return ("user", self.st.pats[tok])
            ent = self.st.tokens.get(tok)
        if not ent:
            self.rec["auth"] = "unknown"
            self.error(401, "Bad credentials")
            return None
        inst, expires = ent
        self.rec["auth"] = f"installation:{inst}"
        self.rec["token_id"] = hashlib.sha1(tok.encode()).hexdigest()[:8]
        if time.time() >= expires:
            self.rec["auth"] += ":expired"
            self.error(401, "Bad credentials")
            return None
        return ("installation", inst)

    def rate_headers(self, who, cost=1):
        with self.st.lock:
            q = self.st.quota.get(who)
            now = int(time.time())
            if not q or q[1] <= now:
                q = self.st.quota[who] = [self.st.rate_limit, now + 3600]
            q[0] = max(0, q[0] - cost)
            return {"x-ratelimit-limit": self.st.rate_limit, "x-ratelimit-remaining": q[0],
                    "x-ratelimit-reset": q[1], "x-ratelimit-used": self.st.rate_limit - q[0],
                    "x-ratelimit-resource": "core",
                    "X-GitHub-Request-Id": uuid.uuid4().hex[:16].upper()}

    # ---- routing ----------------------------------------------------------
    def route(self, method, url):
        p = url.path
        if p == "/app" and method == "GET":
            why = self.check_jwt()
            if why:
                return self.error(401, why)
            return self.reply(200, {"id": int(self.st.app_id), "slug": self.st.slug,
                                    "node_id": "A_1", "name": self.st.slug.title(),
                                    "description": "Issue triage", "external_url": "https://example.org",
                                    "html_url": f"https://github.com/apps/{self.st.slug}",
                                    "created_at": "2026-01-01T00:00:00Z",
                                    "updated_at": "2026-01-01T00:00:00Z",
                                    "owner": user_obj("acme", 2, "Organization"),
                                    "permissions": {"issues": "write", "metadata": "read"},
                                    "events": ["issues", "issue_comment", "pull_request"]})
        m = re.fullmatch(r"/app/installations/(\d+)/access_tokens", p)
        if m and method == "POST":
            why = self.check_jwt()
            if why:
                return self.error(401, why)
            tok = "ghs_" + secrets.token_hex(18)
            with self.st.lock:
                exp = int(time.time()) + self.st.token_lifetime
                self.st.tokens[tok] = (int(m.group(1)), exp)
            return self.reply(201, {"token": tok, "expires_at": iso(exp),
                                    "permissions": {"issues": "write", "metadata": "read"},
                                    "repository_selection": "all"})
        who = self.principal()
        if not who:
            return
        # Conditional GETs answered 304 cost no quota (GitHub's rule).
        if p == "/user" and method == "GET":
            if who[0] != "user":
                return self.error(403, "Resource not accessible by integration")
            me = user_obj(who[1], 77)
            me.update({"name": None, "company": None, "blog": "", "location": None,
                       "email": None, "hireable": None, "bio": None, "public_repos": 0,
                       "public_gists": 0, "followers": 0, "following": 0,
                       "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"})
            return self.reply(200, me, self.rate_headers(who))
        with self.st.lock:
            if self.st.secondary_next > 0:
                self.st.secondary_next -= 1
                h = self.rate_headers(who, 0)
                if self.st.secondary_retry_after is not None:
                    h["retry-after"] = self.st.secondary_retry_after
                return self.error(403, SECONDARY_MSG, h)
            if self.st.fail5xx_next > 0:
                self.st.fail5xx_next -= 1
                return self.error(502, "Server Error")
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)/issues/comments/(\d+)", p)
        if m:
            return self.comment_edit(method, f"{m.group(1)}/{m.group(2)}", int(m.group(3)), who)
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)/issues/(\d+)(/.*)?", p)
        if not m:
            return self.error(404, "Not Found")
        repo, number, rest = f"{m.group(1)}/{m.group(2)}", int(m.group(3)), m.group(4) or ""
        with self.st.lock:
            issue = self.st.issues.get((repo, number))
        if not issue:
            return self.error(404, "Not Found", self.rate_headers(who))
        actor = self.st.bot if who[0] == "installation" else user_obj(who[1], 77)
        if rest == "" and method == "GET":
            return self.reply(200, self.issue_json(issue), self.rate_headers(who))
        if rest == "/labels":
            return self.labels(method, issue, actor, who, url)
        m2 = re.fullmatch(r"/labels/(.+)", rest)
        if m2 and method == "DELETE":
            name = urllib.parse.unquote(m2.group(1))
            with self.st.lock:
                if name not in issue["labels"]:
                    return self.error(404, "Label does not exist", self.rate_headers(who))
                self.change(issue, actor, remove=[name])
                out = [label_obj(repo, n) for n in issue["labels"]]
            return self.reply(200, out, self.rate_headers(who))
        if rest == "/events" and method == "GET":
            return self.paged(url, issue["events"], who)
        if rest == "/comments":
            if method == "GET":
                return self.paged(url, issue["comments"], who)
            if method == "POST":
                if not isinstance(self.body, dict) or not isinstance(self.body.get("body"), str):
                    return self.error(422, "Invalid request.\n\n\"body\" wasn't supplied.")
                with self.st.lock:
                    c = {"id": self.st.nid(), "node_id": "IC_x", "body": self.body["body"],
                         "user": actor, "created_at": iso(time.time()),
                         "updated_at": iso(time.time()),
                         "html_url": f"https://github.com/{repo}/issues/{number}#issuecomment"}
                    issue["comments"].append(c)
                    self.st.comments_index = getattr(self.st, "comments_index", {})
                    self.st.comments_index[c["id"]] = (repo, number)
                return self.reply(201, c, self.rate_headers(who))
        return self.error(404, "Not Found", self.rate_headers(who))

    def issue_json(self, issue):
        api = f"https://api.github.com/repos/{issue['repo']}"
        url = f"{api}/issues/{issue['number']}"
        return {"id": issue["id"], "node_id": f"I_{issue['id']}", "number": issue["number"],
                "title": issue["title"], "body": issue["body"], "state": "open",
                "locked": False, "url": url, "repository_url": api,
                "labels_url": url + "/labels{/name}", "comments_url": url + "/comments",
                "events_url": url + "/events", "comments": len(issue["comments"]),
                "labels": [label_obj(issue["repo"], n) for n in issue["labels"]],
                "user": user_obj("octocat", 3), "assignee": None, "assignees": [],
                "milestone": None, "closed_at": None,
                "html_url": f"https://github.com/{issue['repo']}/issues/{issue['number']}",
                "created_at": issue["created_at"], "updated_at": issue["updated_at"]}

    def labels(self, method, issue, actor, who, url):
        repo = issue["repo"]
        if method == "GET":
            names = list(issue["labels"])
            etag = 'W/"%s"' % hashlib.sha1(json.dumps(names).encode()).hexdigest()
            if self.headers.get("If-None-Match") == etag:
                h = self.rate_headers(who, 0)
                h["ETag"] = etag
                return self.reply(304, None, h)
            h = self.rate_headers(who)
            h["ETag"] = etag
            return self.reply(200, [label_obj(repo, n) for n in names], h)
        if method in ("POST", "PUT"):
            b = self.body
            # Accepted shapes, as in GitHub's description: {"labels": [names]},
            # {"labels": [{"name": …}]}, [names].
            if isinstance(b, dict):
                b = b.get("labels")
            if not isinstance(b, list) or not b:
                return self.error(422, "Invalid request.\n\nNo subschema in \"anyOf\" matched.")
            names = [x["name"] if isinstance(x, dict) else x for x in b]
            if not all(isinstance(n, str) and n for n in names):
                return self.error(422, "Invalid request.")
            with self.st.lock:
                if method == "PUT":
                    self.change(issue, actor, remove=[n for n in issue["labels"]
                                                      if n not in names])
                self.change(issue, actor, add=names)
                out = [label_obj(repo, n) for n in issue["labels"]]
            return self.reply(200, out, self.rate_headers(who))
        return self.error(404, "Not Found")

    def paged(self, url, items, who):
        q = urllib.parse.parse_qs(url.query)
        per = min(int(q.get("per_page", ["30"])[0]), 100)
        page = int(q.get("page", ["1"])[0])
        with self.st.lock:
            chunk = items[(page - 1) * per: page * per]
            more = len(items) > page * per
        h = self.rate_headers(who)
        if more:
            base = f"http://{self.headers.get('Host')}{url.path}"
            h["Link"] = (f'<{base}?per_page={per}&page={page + 1}>; rel="next", '
                         f'<{base}?per_page={per}&page={(len(items) + per - 1) // per}>; '
                         f'rel="last"')
        return self.reply(200, chunk, h)

    def comment_edit(self, method, repo, cid, who):
        with self.st.lock:
            where = getattr(self.st, "comments_index", {}).get(cid)
            issue = self.st.issues.get(where) if where else None
        if not issue or method != "PATCH":
            return self.error(404, "Not Found", self.rate_headers(who))
        if not isinstance(self.body, dict) or not isinstance(self.body.get("body"), str):
            return self.error(422, "Invalid request.")
        with self.st.lock:
            for c in issue["comments"]:
                if c["id"] == cid:
                    c["body"] = self.body["body"]
                    c["updated_at"] = iso(time.time())
                    return self.reply(200, c, self.rate_headers(who))
        return self.error(404, "Not Found")

    # ---- label changes and their webhooks ---------------------------------
    def change(self, issue, actor, add=(), remove=()):
        """Apply a label change by actor (lock held): events and webhooks."""
        for n in remove:
            if n in issue["labels"]:
                issue["labels"].remove(n)
                self.event(issue, actor, "unlabeled", n)
        for n in add:
            if n not in issue["labels"]:
                issue["labels"].append(n)
                self.event(issue, actor, "labeled", n)

    def event(self, issue, actor, kind, name):
        eid = self.st.nid()
        issue["events"].append({"id": eid, "node_id": f"LE_{eid}",
                                "url": f"https://api.github.com/repos/{issue['repo']}/issues/events/{eid}",
                                "actor": dict(actor), "event": kind, "commit_id": None,
                                "commit_url": None, "performed_via_github_app": None,
                                "label": {"name": name, "color": label_obj("", name)["color"]},
                                "created_at": iso(time.time())})
        issue["updated_at"] = iso(time.time())
        if self.st.webhook_url:
            payload = {"action": kind, "issue": self.issue_json(issue),
                       "label": label_obj(issue["repo"], name),
                       "repository": {"id": 1, "name": issue["repo"].split("/")[1],
                                      "full_name": issue["repo"], "private": False,
                                      "owner": {"login": issue["repo"].split("/")[0], "id": 2},
                                      "html_url": f"https://github.com/{issue['repo']}"},
                       "sender": dict(actor), "installation": {"id": issue["installation"],
                                                               "node_id": "MDIz"}}
            threading.Thread(target=deliver, args=(self.st, payload), daemon=True).start()

    # ---- control ----------------------------------------------------------
    def control(self, method, url, raw):
        body = json.loads(raw) if raw else {}
        st = self.st
        with st.lock:
            if url.path == "/_fake/issue" and method == "POST":
                key = (body["repo"], int(body["number"]))
                st.issues[key] = {"repo": body["repo"], "number": key[1], "id": st.nid(),
                                  "title": body.get("title", ""), "body": body.get("body", ""),
                                  "labels": list(body.get("labels", [])), "events": [],
                                  "comments": [], "installation": body.get("installation", 1),
                                  "created_at": iso(time.time()),
                                  "updated_at": iso(time.time())}
                return self.reply(200, {"ok": True})
            if url.path == "/_fake/label" and method == "POST":
                issue = st.issues[(body["repo"], int(body["number"]))]
                actor = user_obj(body.get("actor", "maintainer"), 55)
                self.change(issue, actor, add=body.get("add", []), remove=body.get("remove", []))
                return self.reply(200, {"labels": issue["labels"]})
            if url.path == "/_fake/control" and method == "POST":
                if body.pop("expire_tokens", False):  # as if the hour had passed
                    st.tokens = {t: (i, 0) for t, (i, _) in st.tokens.items()}
                for k in ("secondary_next", "secondary_retry_after", "fail5xx_next",
                          "token_lifetime", "webhook_url", "webhook_secret", "rate_limit"):
                    if k in body:
                        setattr(st, k, body[k])
                return self.reply(200, {"ok": True})
            if url.path == "/_fake/state":
                return self.reply(200, {f"{r}#{n}": {"labels": i["labels"], "events": i["events"],
                                                     "comments": i["comments"]}
                                        for (r, n), i in st.issues.items()})
            if url.path == "/_fake/requests":
                return self.reply(200, st.requests)
            if url.path == "/_fake/reset":
                st.requests.clear()
                return self.reply(200, {"ok": True})
        return self.reply(404, {"message": "unknown control"})


def deliver(st, payload):
    """POST a webhook the way GitHub does (signed, with its headers)."""
    data = json.dumps(payload).encode()
    sig = hmac.new(st.webhook_secret.encode(), data, hashlib.sha256).hexdigest()
    req = urllib.request.Request(st.webhook_url, data=data, method="POST", headers={
        "Content-Type": "application/json", "X-GitHub-Event": "issues",
        "X-GitHub-Delivery": str(uuid.uuid4()), "X-Hub-Signature-256": "sha256=" + sig,
        "User-Agent": "GitHub-Hookshot/fake", "X-GitHub-Hook-ID": "1"})
    for _ in range(20):
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                if r.status < 500:
                    return
        except Exception:
            pass
        time.sleep(0.25)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--app-id", required=True)
    ap.add_argument("--private-key", required=True, help="the App's PEM key (public half used)")
    ap.add_argument("--slug", default="dispatchai-test")
    ap.add_argument("--pat", action="append", help="TOKEN:LOGIN of a personal token")
    ap.add_argument("--token-lifetime", type=int, default=3600)
    args = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    srv.state = State(args)
    srv.state.token_lifetime = args.token_lifetime
    print(f"fake-github listening on 127.0.0.1:{srv.server_address[1]}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
