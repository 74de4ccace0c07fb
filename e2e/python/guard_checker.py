"""A small real guardrail checker for the webhook-guard tests, speaking agentgateway's guardrail
webhook format on 127.0.0.1: POST /request with {"body":{"messages":[{role,content}]}} and
POST /response with {"body":{"choices":[{"message":{role,content}}]}}, answering
{"action":{...}}: pass (no body), mask (the same list with `secret-<digits>` replaced by <CODE>),
or reject (a text containing BLOCKME: body = message, status_code = 400).

`mode` switches the whole checker: "judge" (the rules above), "error" (HTTP 500), "slow"
(sleep `delay` seconds, then judge), "garbage" (a 200 that is no verdict)."""

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = re.compile(r"secret-\d+")
REJECT_MESSAGE = "blocked by the checker: BLOCKME is not allowed"


class Checker:
    def __init__(self):
        self.mode = "judge"
        self.delay = 0.0
        self.calls = []  # (path, headers, body)
        self.lock = threading.Lock()
        checker = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_):
                pass

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                with checker.lock:
                    checker.calls.append((self.path, {k.lower(): v for k, v in self.headers.items()}, json.loads(raw)))
                status, answer = checker.answer(self.path, json.loads(raw))
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(self, path: str, payload: dict):
        if self.mode == "error":
            return 500, {"error": "checker broke"}
        if self.mode == "garbage":
            return 200, b'{"verdict": "fine"}'
        if self.mode == "slow":
            time.sleep(self.delay)
        body = payload["body"]
        if path.endswith("/request"):
            items, text_of = body["messages"], lambda m: m["content"]
        else:
            items, text_of = body["choices"], lambda c: c["message"]["content"]
        texts = [text_of(item) for item in items]
        if any("BLOCKME" in t for t in texts):
            return 200, {"action": {"body": REJECT_MESSAGE, "status_code": 400, "reason": "blocklist"}}
        if not any(SECRET.search(t) for t in texts):
            return 200, {"action": {"reason": "clean"}}
        if path.endswith("/request"):
            masked = {"messages": [{**m, "content": SECRET.sub("<CODE>", m["content"])} for m in items]}
        else:
            masked = {"choices": [{"message": {**c["message"], "content": SECRET.sub("<CODE>", c["message"]["content"])}} for c in items]}
        return 200, {"action": {"body": masked, "reason": "codes masked"}}

    def texts(self, path_suffix: str) -> list:
        with self.lock:
            calls = [c for c in self.calls if c[0].endswith(path_suffix)]
        out = []
        for _, _, payload in calls:
            body = payload["body"]
            if "messages" in body:
                out.extend(m["content"] for m in body["messages"])
            else:
                out.extend(c["message"]["content"] for c in body["choices"])
        return out

    def close(self):
        self.server.shutdown()
        self.server.server_close()
