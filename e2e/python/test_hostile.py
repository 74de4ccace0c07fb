"""A hostile client against the real agw-proxy in front of the mock upstream: raw HTTP (no SDK
to normalize what is sent), every request shape a guard could be slipped past. Each case must
be refused with the expected status, the mock must have seen nothing, and the proxy must stay
ready and keep serving."""

from __future__ import annotations

import gzip
import json
import socket

import pytest

from conftest import GUARDED

PHRASE = "credit card"
GITHUB_TOKEN = "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"  # random, valid checksum, grants nothing

GUARDS = """\
        - response:
            message: "Rejected due to inappropriate content"
          regex:
            action: Reject
            matches: ["credit card"]
            builtins: [Secrets]
          scope: [System, Messages, ToolResults, ToolUse]
"""


def raw(port: int, head: str, body: bytes = b"") -> tuple[int, bytes]:
    """Sends one request as written (head lines without the final blank line) and returns the
    status and body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head.encode() + b"\r\nconnection: close\r\n\r\n" + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    _, _, payload = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), payload


def post(port: int, body: bytes, path: str = "/v1/messages", headers: str = "content-type: application/json") -> tuple[int, bytes]:
    head = f"POST {path} HTTP/1.1\r\nhost: x\r\n{headers}\r\ncontent-length: {len(body)}"
    return raw(port, head, body)


def messages(*content) -> bytes:
    return json.dumps({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": c} for c in content]}).encode()


def block_body(*blocks: dict, extra: dict | None = None) -> bytes:
    return json.dumps({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": list(blocks)}], **(extra or {})}).encode()


CASES = {
    # Ambiguous JSON: the provider may read the other `messages`.
    "duplicate key": (b'{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"hi"}],"messages":[{"role":"user","content":"credit card"}]}', 400),
    "duplicate key in a block": (b'{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"text","text":"credit card","text":"hi"}]}]}', 400),
    # Text wherever it can hide.
    "phrase split across text blocks": (block_body({"type": "text", "text": "what is a cred"}, {"type": "text", "text": "it card"}), 400),
    "role system message": (json.dumps({"model": "m", "max_tokens": 1, "messages": [{"role": "system", "content": PHRASE}, {"role": "user", "content": "hi"}]}).encode(), 400),
    "system blocks": (json.dumps({"model": "m", "max_tokens": 1, "system": [{"type": "text", "text": PHRASE}], "messages": [{"role": "user", "content": "hi"}]}).encode(), 400),
    "nested tool_result": (block_body({"type": "tool_result", "tool_use_id": "t", "content": [[{"type": "text", "text": PHRASE}]]}), 400),
    "tool_use input leaf": (block_body({"type": "tool_use", "id": "t", "name": "bash", "input": {"a": [{"b": PHRASE}]}}), 400),
    "document text source": (block_body({"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": PHRASE}}), 400),
    "thinking block": (block_body({"type": "thinking", "thinking": PHRASE, "signature": "c2ln"}), 400),
    "unknown block type": (block_body({"type": "hologram", "payload": {"caption": PHRASE}}), 400),
    "metadata": (block_body({"type": "text", "text": "hi"}, extra={"metadata": {"user_id": PHRASE}}), 400),
    "credential in a tool result": (block_body({"type": "tool_result", "tool_use_id": "t", "content": f"GITHUB_TOKEN={GITHUB_TOKEN}\n"}), 400),
    "escaped key names": (b'{"model":"m","max_tokens":1,"\\u006dessages":[{"role":"user","content":"credit card"}]}', 400),
    # Keys the client chose are read as text too: the provider reads them.
    "phrase as a tool input key": (block_body({"type": "tool_use", "id": "t", "name": "n", "input": {"a": {PHRASE: 1}}}), 400),
    "credential as a tool input key": (block_body({"type": "tool_use", "id": "t", "name": "n", "input": {GITHUB_TOKEN: True}}), 400),
    "escaped tool input key": (b'{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_use","id":"t","name":"n","input":{"\\u0063redit c\\u0061rd":1}}]}]}', 400),
    "metadata key": (block_body({"type": "text", "text": "hi"}, extra={"metadata": {PHRASE: "x"}}), 400),
    "key of structured tool_result content": (block_body({"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "ok", PHRASE: 1}]}), 400),
    "key of an unknown block": (block_body({"type": "hologram", "payload": {PHRASE: 1}}), 400),
    "key of a message field": (json.dumps({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": "hi", PHRASE: 1}]}).encode(), 400),
    "duplicate key in tool input": (b'{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_use","id":"t","name":"n","input":{"k":"a","k":"credit card"}}]}]}', 400),
    # Texts the model reads as one.
    "phrase across consecutive user turns": (messages("what is a credit", " card"), 400),
    "phrase across text blocks with a citation between": (block_body({"type": "text", "text": "what is a credit", "citations": [{"type": "char_location", "cited_text": "x", "document_index": 0, "start_char_index": 0, "end_char_index": 1}]}, {"type": "text", "text": " card"}), 400),
    "phrase across text blocks of a tool_result": (block_body({"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "credit"}, {"type": "text", "text": " card"}]}), 400),
    # Structure the guard cannot interpret.
    "lone surrogate": (b'{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"credit\\ud800 card"}]}', 400),
    "nesting too deep": (b'{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_use","id":"t","name":"n","input":' + b"[" * 5000 + b'"credit card"' + b"]" * 5000 + b"}]}]}", 400),
    "invalid UTF-8": (b'{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"credit \xff card"}]}', 400),
    "messages not an array": (b'{"model":"m","max_tokens":1,"messages":{"role":"user","content":"credit card"}}', 400),
    "content of another type": (b'{"model":"m","max_tokens":1,"messages":[{"role":"user","content":{"text":"credit card"}}]}', 400),
    "a block that is no object": (b'{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[["credit card"]]}]}', 400),
    "trailing garbage": (messages(PHRASE) + b" {}", 400),
}


@pytest.fixture
def guarded(mock, start_proxy):
    proxy = start_proxy(GUARDED.format(port=mock.port, guards=GUARDS, key="sk-ant-proxy-key", anthropic="{}"))
    yield proxy
    # After every hostile request the proxy is still ready and serves an innocent one.
    assert proxy.admin("/readyz")[0] == 200
    status, _ = post(proxy.port, messages("What is Kubernetes?"))
    assert status == 200
    assert [r.path for r in mock.requests] == ["/v1/messages"]


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_bodies_are_refused_and_never_forwarded(name, guarded, mock):
    body, expected = CASES[name]
    status, payload = post(guarded.port, body)
    assert status == expected, payload
    assert json.loads(payload)["type"] == "error"
    assert mock.requests == []


@pytest.mark.parametrize("headers", [
    "content-type: application/json\r\ncontent-encoding: gzip",
    "content-type: application/json\r\ncontent-encoding: br",
    "content-type: application/json\r\ncontent-encoding: identity, deflate",
    "content-type: text/plain",
    "content-type: application/x-www-form-urlencoded",
    "x-no-content-type: 1",
])
def test_bodies_a_guard_cannot_read_as_sent_are_415(headers, guarded, mock):
    body = gzip.compress(messages(PHRASE)) if "gzip" in headers else messages(PHRASE)
    status, payload = post(guarded.port, body, headers=headers)
    assert status == 415, payload
    assert mock.requests == []


def test_a_chunked_body_is_read_whole_and_guarded(guarded, mock):
    body = messages(PHRASE)
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 7]), body[i:i + 7]) for i in range(0, len(body), 7)) + b"0\r\n\r\n"
    status, _ = raw(guarded.port, "POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked", chunks)
    assert status == 400
    assert mock.requests == []


@pytest.mark.parametrize("path", [
    "/v1/./messages",
    "//v1//messages",
    "/v1/x/../messages",
    "/v1/%6Dessages",
    "/v1/messages/",
    "/v1/messages?beta=true",
    "/v1/messages/count_tokens",
    "/v1/messages/./count_tokens/",
    "/V1/Messages",
    "/v1/messages%2F",
    "/v1/messages;x=1",
    "/team-a/v1/messages",
    "/team-a//v1/%6Dessages/",
    "/team-a/v1/messages;x=1",
    "/v1/messages%252F",
    "/v1%5Cmessages",
    "/v1/messages%00",
])
def test_path_forms_reach_the_guard(path, guarded, mock):
    status, payload = post(guarded.port, messages(PHRASE), path=path)
    assert status in (400, 404), payload
    assert mock.requests == []


@pytest.mark.parametrize("path, body", [
    ("/v1/messages/batches", {"requests": [{"custom_id": "a", "params": json.loads(messages(PHRASE))}]}),
    ("/team-a/v1/messages/batches", {"requests": [{"custom_id": "a", "params": json.loads(messages(PHRASE))}]}),
    ("/v1/complete", {"model": "claude-2.1", "max_tokens_to_sample": 5, "prompt": f"\n\nHuman: {PHRASE}\n\nAssistant:"}),
])
def test_endpoints_whose_prompts_no_guard_reads_are_refused(path, body, guarded, mock):
    # Message Batches and Text Completions carry prompts too; through the `*` fallback they
    # would be a second door around the guards.
    status, payload = post(guarded.port, json.dumps(body).encode(), path=path)
    assert status == 404, payload
    assert mock.requests == []


MASK_GUARDS = """\
        - regex:
            action: Mask
            builtins: [Email]
          scope: [Messages, ToolUse]
"""


@pytest.fixture
def masking(mock, start_proxy):
    proxy = start_proxy(GUARDED.format(port=mock.port, guards=MASK_GUARDS, key="sk-ant-proxy-key", anthropic="{}"))
    yield proxy
    assert proxy.admin("/readyz")[0] == 200


def test_a_masked_key_is_rewritten_in_place(masking, mock):
    body = block_body({"type": "tool_use", "id": "t", "name": "n", "input": {"a.b@example.com": "x", "keep": 1.50}})
    status, payload = post(masking.port, body)
    assert status == 200, payload
    [seen] = mock.messages_requests()
    assert seen.body == body.replace(b"a.b@example.com", b"<EMAIL_ADDRESS>")


def test_keys_masked_into_one_are_refused(masking, mock):
    body = block_body({"type": "tool_use", "id": "t", "name": "n", "input": {"a@example.com": 1, "b@example.com": 2}})
    status, payload = post(masking.port, body)
    assert status == 400, payload
    assert "ambiguous" in json.loads(payload)["error"]["message"]
    assert mock.requests == []


def test_a_phrase_across_turns_of_different_roles_is_not_joined(mock, start_proxy):
    proxy = start_proxy(GUARDED.format(port=mock.port, guards=GUARDS, key="sk-ant-proxy-key", anthropic="{}"))
    turns = [{"role": "user", "content": "what is a credit"}, {"role": "assistant", "content": " card"}, {"role": "user", "content": "go on"}]
    body = json.dumps({"model": "m", "max_tokens": 1, "messages": turns}).encode()
    status, payload = post(proxy.port, body)
    assert status == 200, payload
    assert [r.body for r in mock.messages_requests()] == [body]
