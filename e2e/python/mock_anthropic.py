"""A local stand-in for the Anthropic API that speaks its wire format.

It is the only imitation in agw's tests (the real API is out of reach): JSON and SSE
responses shaped like api.anthropic.com's Messages API, `count_tokens` and `models`,
and 404s in Anthropic's error format. Every request is recorded (method, path, headers,
raw body) so tests can assert what reached the provider. Faults can be injected per
test: an error status, a delay before headers, or a connection reset mid-stream.

Run standalone:  python3 e2e/python/mock_anthropic.py --port 18080
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body or b"null")


@dataclass
class Faults:
    status: Optional[int] = None  # answer every Messages call with this error status
    error_message: str = "injected error"
    delay_headers: float = 0.0  # seconds before response headers
    reset_after_events: Optional[int] = None  # close the socket after N SSE events
    event_gap: float = 0.0  # seconds between SSE events
    # Reply with this text instead of the canned answer, streamed as exactly these
    # `text_delta`s (JSON replies join them), e.g. to split an email across deltas.
    reply_deltas: Optional[list] = None


def answer_for(prompt: str) -> str:
    lowered = prompt.lower()
    if "kubernetes" in lowered:
        return "Kubernetes is an open-source system for automating deployment, scaling and management of containerized applications."
    if not prompt.strip():
        return "Hello! How can I help you today?"
    return f"You asked about: {prompt.strip()[:200]}"


def last_user_text(body: dict) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        texts = [b.get("text", "") for b in content or [] if isinstance(b, dict) and b.get("type") == "text"]
        # Claude Code puts reminders first and the prompt last.
        texts = [t for t in texts if not t.startswith("<system-reminder>")]
        if texts:
            return texts[-1]
    return ""


class Mock:
    def __init__(self, port: int = 0, host: str = "127.0.0.1"):
        self.requests: list[Recorded] = []
        self.faults = Faults()
        self.lock = threading.Lock()
        mock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                mock.handle(self)

            def do_POST(self):
                mock.handle(self)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def messages_requests(self) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path.split("?")[0] == "/v1/messages"]

    # --- request handling -------------------------------------------------

    def handle(self, h: BaseHTTPRequestHandler):
        length = int(h.headers.get("content-length") or 0)
        body = h.rfile.read(length) if length else b""
        with self.lock:
            self.requests.append(Recorded(h.command, h.path, {k.lower(): v for k, v in h.headers.items()}, body))
        path = h.path.split("?")[0]
        if self.faults.delay_headers:
            time.sleep(self.faults.delay_headers)
        if path == "/v1/messages" and h.command == "POST":
            self.messages(h, body)
        elif path == "/v1/messages/count_tokens" and h.command == "POST":
            self.send_json(h, 200, {"input_tokens": max(1, len(body) // 4)})
        elif path == "/_mock/requests" and h.command == "GET":
            # For tests that run the mock as a separate process (the Rust e2e suite).
            with self.lock:
                seen = [{"method": r.method, "path": r.path, "headers": r.headers} for r in self.requests if not r.path.startswith("/_mock/")]
            self.send_json(h, 200, {"requests": seen})
        elif path == "/v1/models":
            self.send_json(h, 200, {"data": [{"type": "model", "id": "claude-sonnet-4-5-20250929", "display_name": "Claude Sonnet 4.5", "created_at": "2025-09-29T00:00:00Z"}], "has_more": False, "first_id": "claude-sonnet-4-5-20250929", "last_id": "claude-sonnet-4-5-20250929"})
        else:
            self.send_json(h, 404, {"type": "error", "error": {"type": "not_found_error", "message": f"Not found: {path}"}})

    def messages(self, h, body: bytes):
        if self.faults.status:
            kind = "invalid_request_error" if self.faults.status < 500 else "api_error"
            self.send_json(h, self.faults.status, {"type": "error", "error": {"type": kind, "message": self.faults.error_message}})
            return
        try:
            request = json.loads(body)
        except ValueError:
            self.send_json(h, 400, {"type": "error", "error": {"type": "invalid_request_error", "message": "invalid json"}})
            return
        deltas = self.faults.reply_deltas
        text = "".join(deltas) if deltas else answer_for(last_user_text(request))
        model = request.get("model", "claude-sonnet-4-5-20250929")
        message_id = f"msg_mock{len(self.requests):06d}"
        usage_in = max(1, len(body) // 4)
        if request.get("stream"):
            self.stream(h, message_id, model, text, usage_in)
        else:
            self.send_json(h, 200, {
                "id": message_id, "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": usage_in, "output_tokens": len(text.split())},
            })

    def stream(self, h, message_id, model, text, usage_in):
        h.send_response(200)
        h.send_header("content-type", "text/event-stream")
        h.send_header("cache-control", "no-cache")
        h.send_header("connection", "close")
        h.end_headers()
        words = text.split(" ")
        chunks = list(self.faults.reply_deltas or [w if i == 0 else " " + w for i, w in enumerate(words)])
        events = [("message_start", {"type": "message_start", "message": {
            "id": message_id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": usage_in, "output_tokens": 1}}})]
        events.append(("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}))
        events.append(("ping", {"type": "ping"}))
        for chunk in chunks:
            events.append(("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": chunk}}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
        events.append(("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": len(words)}}))
        events.append(("message_stop", {"type": "message_stop"}))
        for n, (name, data) in enumerate(events):
            if self.faults.reset_after_events is not None and n >= self.faults.reset_after_events:
                h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                h.connection.close()
                return
            h.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
            h.wfile.flush()
            if self.faults.event_gap:
                time.sleep(self.faults.event_gap)
        h.close_connection = True

    @staticmethod
    def send_json(h, status: int, payload: dict):
        data = json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("content-type", "application/json")
        h.send_header("content-length", str(len(data)))
        h.send_header("request-id", "req_mock")
        h.end_headers()
        h.wfile.write(data)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 inside a test cluster's namespace)")
    args = parser.parse_args()
    with Mock(args.port, host=args.host) as mock:
        print(f"mock Anthropic API on {mock.url}", flush=True)
        threading.Event().wait()
