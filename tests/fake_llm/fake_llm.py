#!/usr/bin/env python3
"""A fake OpenAI-compatible Chat Completions server for DispatchAI's tests.

Owns: POST /v1/chat/completions with the real request/response shapes
(chat.completion objects with choices, usage and system_fingerprint; error
objects {"error": {"message", "type", "param", "code"}} with the statuses the
real API uses), plus knobs to misbehave. Python standard library only.

The answer is a plausible classification derived deterministically from the
prompt: the issue's title/body (from the user message the classifier sends)
pick category, priority, effort and tags by keywords, and the team list in the
system prompt ("- name: description (topics: a, b)") picks the assignee.

Knobs (command-line flags at start, or POST /control with a JSON object of the
same names at any time):
  mode          ok | error500 | error503 | error429 | hang | malformed |
                bad_envelope | out_of_enum | repairable | fenced | refusal
  latency_ms    delay before every answer (default 0)
  retry_after   Retry-After seconds sent with 429 (default 1; null = no header)
  fail_next     the next N chat requests use fail_mode, then `mode` again
  fail_mode     mode used by fail_next (default error500)
  no_json_schema  answer 400 to response_format json_schema, like servers
                without structured-output support
  no_schema_bounds  answer 400 to a json_schema using maxLength/maxItems, like
                strict structured-output modes that refuse those keywords
  api_key       require this key (Authorization: Bearer or api-key header)
  hang_ms       longest a hanging request is held (default 600000)
GET /stats: requests, by_status, by_mode, titles (chat calls per issue title),
in_flight, max_in_flight, response_formats, last_request. POST /reset clears
the statistics. GET /health answers 200.

Usage: fake_llm.py [--port N] [--latency-ms N] [--mode M] ... ; prints
"fake-llm listening on 127.0.0.1:PORT" once it accepts connections.
"""
import argparse
import hashlib
import json
import re
import select
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = {"ok", "error500", "error503", "error429", "hang", "malformed", "bad_envelope",
         "out_of_enum", "repairable", "fenced", "refusal"}

RULES = [
    # (category, priority, keywords) in order of precedence
    ("security", "critical", ["security", "vulnerab", "cve-", "xss", "injection", "exploit",
                              "leaked", "token leak", "csrf", "privilege"]),
    ("bug", "high", ["crash", "segfault", "exception", "traceback", "error", "fails",
                     "broken", "regression", "bug", "panic", "wrong"]),
    ("documentation", "low", ["documentation", "docs", "readme", "typo", "tutorial"]),
    ("question", "low", ["how do i", "how to", "how can", "question", "is it possible",
                         "what is"]),
    ("feature_request", "medium", ["feature", "add support", "would be nice", "please add",
                                   "allow ", "support for", "new option"]),
    ("enhancement", "medium", ["improve", "faster", "slow", "performance", "better",
                               "refactor", "cleanup"]),
]


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.cfg = {
            "mode": args.mode,
            "latency_ms": args.latency_ms,
            "retry_after": args.retry_after,
            "fail_next": 0,
            "fail_mode": "error500",
            "no_json_schema": args.no_json_schema,
            "no_schema_bounds": False,
            "api_key": args.api_key,
            "hang_ms": 600000,
        }
        self.reset()

    def reset(self):
        self.stats = {"requests": 0, "chat_requests": 0, "by_status": {}, "by_mode": {},
                      "titles": {}, "in_flight": 0, "max_in_flight": 0,
                      "response_formats": {}, "repairs": 0, "last_request": None}


def classify(title, body, system):
    """The deterministic 'model': keywords in, a full classification out."""
    text = f"{title}\n{body}".lower()
    category, priority, hits = "enhancement", "medium", []
    for cat, prio, words in RULES:
        found = [w.strip() for w in words if w in text]
        if found:
            category, priority, hits = cat, prio, found
            break
    if category == "question" and "?" not in title and not hits:
        category = "enhancement"
    n = len(body)
    effort = "small" if n < 200 else "medium" if n < 1000 else "large" if n < 3000 \
        else "extra_large"
    team = None
    for name, desc, topics in parse_teams(system):
        words = [name.lower()] + [t.lower() for t in topics]
        if any(re.search(r"\b" + re.escape(w) + r"\b", text) for w in words if w):
            team = name
            break
    digest = int(hashlib.sha256(title.encode()).hexdigest()[:8], 16)
    return {
        "category": category,
        "priority": priority,
        "effort_estimate": effort,
        "suggested_assignee": team,
        "confidence": round(0.55 + (digest % 40) / 100.0, 2),
        "reasoning": (f"The text mentions '{hits[0]}', typical of {category.replace('_', ' ')}."
                      if hits else "No strong signal; treated as an improvement."),
        "tags": sorted(set(h.replace(" ", "-") for h in hits))[:3],
        "summary": (title[:120] or "Untitled issue") + ".",
    }


def parse_teams(system):
    """Teams from the block after a "Teams:" line, up to the next blank line."""
    teams = []
    block = re.search(r"^Teams:\n((?:- .*\n?)+)", system or "", re.M)
    for m in re.finditer(r"^- ([A-Za-z0-9._-]+): ?(.*?)(?: \(topics: (.*)\))?$",
                         block.group(1) if block else "", re.M):
        topics = [t.strip() for t in (m.group(3) or "").split(",") if t.strip()]
        teams.append((m.group(1), m.group(2), topics))
    return teams


def parse_user(content):
    """Title and body from the classifier's user message (Title: ...\\nBody:\\n...)."""
    title = ""
    m = re.search(r"^Title: (.*)$", content or "", re.M)
    if m:
        title = m.group(1)
    body = ""
    m = re.search(r"^Body:\n(.*)\Z", content or "", re.M | re.S)
    if m:
        body = m.group(1)
        if body == "(empty)":
            body = ""
    return title, body


def tokens(s):
    return max(1, len(s) // 4)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-llm/1"
    # Buffer the response so status line, headers and body leave in one
    # segment (flushed after each request): two small writes would meet
    # Nagle + delayed ACK and add ~40 ms to every answer.
    wbufsize = 64 * 1024

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):  # quiet: tests read /stats instead
        pass

    # ---- plumbing -------------------------------------------------------
    def _send(self, status, obj=None, raw=None, headers=None):
        body = raw if raw is not None else json.dumps(obj).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        if self.path.endswith("chat/completions"):
            st = self.server.state
            with st.lock:
                key = str(status)
                st.stats["by_status"][key] = st.stats["by_status"].get(key, 0) + 1

    def _error(self, status, message, etype, code=None, param=None, headers=None):
        self._send(status, {"error": {"message": message, "type": etype, "param": param,
                                      "code": code}}, headers=headers)

    def _client_gone(self):
        try:
            r, _, _ = select.select([self.connection], [], [], 0)
            return bool(r) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    # ---- routes -----------------------------------------------------------
    def do_GET(self):
        st = self.server.state
        if self.path == "/health":
            self._send(200, {"status": "ok"})
        elif self.path == "/stats":
            with st.lock:
                snap = json.loads(json.dumps(st.stats))
                snap["config"] = {k: v for k, v in st.cfg.items() if k != "api_key"}
            self._send(200, snap)
        elif self.path in ("/v1/models", "/models"):
            self._send(200, {"object": "list", "data": [
                {"id": "fake-model", "object": "model", "created": 0, "owned_by": "tests"}]})
        else:
            self._error(404, f"Unknown path {self.path}", "invalid_request_error")

    def do_POST(self):
        st = self.server.state
        raw = self._body()
        if self.path == "/control":
            try:
                change = json.loads(raw or b"{}")
                assert isinstance(change, dict)
                bad = [k for k in change if k not in st.cfg]
                if bad or ("mode" in change and change["mode"] not in MODES) or \
                        ("fail_mode" in change and change["fail_mode"] not in MODES):
                    raise ValueError(f"unknown knob or mode: {bad or change}")
            except (ValueError, AssertionError) as e:
                self._error(400, str(e), "invalid_request_error")
                return
            with st.lock:
                st.cfg.update(change)
                cfg = {k: v for k, v in st.cfg.items() if k != "api_key"}
            self._send(200, cfg)
            return
        if self.path == "/reset":
            with st.lock:
                st.reset()
            self._send(200, {"reset": True})
            return
        if self.path not in ("/v1/chat/completions", "/chat/completions"):
            self._error(404, f"Unknown path {self.path}", "invalid_request_error")
            return
        with st.lock:
            st.stats["requests"] += 1
            st.stats["in_flight"] += 1
            st.stats["max_in_flight"] = max(st.stats["max_in_flight"], st.stats["in_flight"])
        try:
            self._chat(raw)
        finally:
            with st.lock:
                st.stats["in_flight"] -= 1

    def _chat(self, raw):
        st = self.server.state
        with st.lock:
            cfg = dict(st.cfg)
            mode = cfg["mode"]
            if cfg["fail_next"] > 0:
                st.cfg["fail_next"] -= 1
                mode = cfg["fail_mode"]
        key = cfg.get("api_key")
        if key:
            auth = self.headers.get("Authorization", "")
            if auth != f"Bearer {key}" and self.headers.get("api-key") != key:
                self._error(401, "Incorrect API key provided: sk-****. You can find your API "
                            "key at the provider's dashboard.", "invalid_request_error",
                            code="invalid_api_key")
                return
        try:
            req = json.loads(raw)
        except ValueError:
            self._error(400, "We could not parse the JSON body of your request.",
                        "invalid_request_error")
            return
        msgs = req.get("messages") if isinstance(req, dict) else None
        if not isinstance(req, dict) or not isinstance(req.get("model"), str) or \
                not isinstance(msgs, list) or not msgs or \
                not all(isinstance(m, dict) and m.get("role") in
                        ("system", "user", "assistant", "developer", "tool") and
                        isinstance(m.get("content"), str) for m in msgs):
            self._error(400, "Invalid request: 'model' and a non-empty 'messages' array of "
                        "{role, content} are required.", "invalid_request_error",
                        param="messages")
            return
        rf = (req.get("response_format") or {}).get("type", "none")
        system = "\n".join(m["content"] for m in msgs if m["role"] in ("system", "developer"))
        user = next((m["content"] for m in msgs if m["role"] == "user"), "")
        repair = any(m["role"] == "assistant" for m in msgs)
        title, body = parse_user(user)
        with st.lock:
            s = st.stats
            s["chat_requests"] += 1
            s["by_mode"][mode] = s["by_mode"].get(mode, 0) + 1
            s["titles"][title] = s["titles"].get(title, 0) + 1
            s["response_formats"][rf] = s["response_formats"].get(rf, 0) + 1
            s["repairs"] += 1 if repair else 0
            s["last_request"] = {"model": req["model"], "response_format": rf,
                                 "messages": len(msgs), "max_tokens": req.get("max_tokens"),
                                 "temperature": req.get("temperature")}
        if cfg["latency_ms"]:
            time.sleep(cfg["latency_ms"] / 1000.0)
        if cfg["no_schema_bounds"] and rf == "json_schema" and re.search(
                r'"max(Length|Items)"', json.dumps(req["response_format"])):
            self._error(400, "Invalid schema for response_format 'issue_classification': "
                        "'maxLength' is not permitted.", "invalid_request_error",
                        param="response_format")
            return
        if cfg["no_json_schema"] and rf == "json_schema":
            self._error(400, "response_format of type 'json_schema' is not supported by this "
                        "server", "invalid_request_error", param="response_format")
            return
        if mode == "hang":
            # Hold the connection without answering until the client gives up
            # (closes it), hang_ms passes, or a mode-wide hang is switched off;
            # then drop the connection without a response.
            from_mode = cfg["mode"] == "hang"
            deadline = time.monotonic() + cfg["hang_ms"] / 1000.0
            while time.monotonic() < deadline:
                with st.lock:
                    if from_mode and st.cfg["mode"] != "hang":
                        break
                if self._client_gone():
                    break
                time.sleep(0.05)
            self.close_connection = True
            return
        if mode == "error500":
            self._error(500, "The server had an error while processing your request. Sorry "
                        "about that!", "server_error")
            return
        if mode == "error503":
            self._error(503, "The engine is currently overloaded, please try again later.",
                        "server_error")
            return
        if mode == "error429":
            h = {}
            if cfg["retry_after"] is not None:
                h["Retry-After"] = str(cfg["retry_after"])
            self._error(429, "Rate limit reached for requests. Please try again later.",
                        "requests", code="rate_limit_exceeded", headers=h)
            return
        if mode == "malformed":
            self._send(200, raw=b'{"id": "chatcmpl-x", "choices": [ {"message": ')
            return
        if mode == "bad_envelope":
            self._send(200, {"id": "chatcmpl-x", "object": "chat.completion", "data": []})
            return

        answer = classify(title, body, system)
        refusal = None
        if mode == "out_of_enum" or (mode == "repairable" and not repair):
            answer["category"] = "urgent-bug"
            answer["priority"] = "p0"
            content = json.dumps(answer)
        elif mode == "fenced":
            content = "Here is the classification you asked for:\n```json\n" + \
                json.dumps(answer, indent=2) + "\n```\n"
        elif mode == "refusal":
            content, refusal = None, "I'm sorry, I can't help with that."
        else:
            content = json.dumps(answer)
        prompt_tokens = sum(tokens(m["content"]) for m in msgs)
        completion_tokens = tokens(content or refusal or "")
        ident = hashlib.sha1(raw).hexdigest()[:24]
        self._send(200, {
            "id": f"chatcmpl-{ident}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": req["model"],
            "system_fingerprint": "fp_fake_llm",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal},
                "logprobs": None,
                "finish_reason": "stop",
            }],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        })


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # bursts of 64+ concurrent connects must not hit the backlog
    allow_reuse_address = True


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--mode", default="ok", choices=sorted(MODES))
    ap.add_argument("--latency-ms", type=int, default=0)
    ap.add_argument("--retry-after", type=int, default=1)
    ap.add_argument("--no-json-schema", action="store_true")
    ap.add_argument("--api-key", default=None)
    args = ap.parse_args(argv)
    srv = Server((args.host, args.port), Handler)
    srv.state = State(args)
    print(f"fake-llm listening on {args.host}:{srv.server_address[1]}", flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
