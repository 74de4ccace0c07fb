"""The access log through the real clients: the tutorial's two `claude -p` prompts (streamed
by Claude Code) and the Anthropic SDK, read back from the proxy's stdout alone."""

import json
import socket
import time
from pathlib import Path

import anthropic

from conftest import MASK_EMAIL, TUTORIAL_GUARD, config, run_claude

MODEL = "claude-sonnet-4-5-20250929"
PROXY_KEY = "sk-ant-proxy-key"
CLIENT_KEY = "sk-ant-client-dummy"


def access_lines(proxy, wait_for: int = 1, timeout: float = 10) -> list[dict]:
    """The JSON access-log lines in the proxy's output (its other logs are text)."""
    deadline = time.time() + timeout
    while True:
        lines = []
        for line in proxy.logs().splitlines():
            if line.startswith("{") and '"request_id"' in line:
                lines.append(json.loads(line))
        if len(lines) >= wait_for or time.time() > deadline:
            return lines
        time.sleep(0.05)


def messages_lines(proxy, wait_for: int = 1) -> list[dict]:
    return [r for r in access_lines(proxy, wait_for) if r["url.path"] == "/v1/messages"]


def assert_no_secrets(proxy):
    output = proxy.logs()
    for key in (PROXY_KEY, CLIENT_KEY):
        assert key not in output, f"{key!r} appears in the proxy's output"
    # The startup banner suggests the prompt; the request lines must not carry it.
    for line in access_lines(proxy):
        assert "credit card" not in json.dumps(line), line


def test_the_tutorials_two_prompts_give_an_allowed_and_a_rejected_session(mock, start_proxy, workdir):
    """From the proxy's output alone: which identity sent which model request, the tokens it
    used, and that the second prompt was rejected by request[0]. Claude Code sends a rejected
    prompt several times in one session (it tries other request shapes after a 400), so the
    second prompt gives one session of rejected lines, every one naming the guard."""
    proxy = start_proxy(config(mock.port, key=PROXY_KEY))
    allowed = run_claude(proxy.url, "What is Kubernetes?", workdir / "home")
    assert allowed.returncode == 0, allowed.stderr
    first = messages_lines(proxy, wait_for=len(mock.messages_requests()))
    rejected = run_claude(proxy.url, "What is a credit card", workdir / "home", timeout=60)
    assert rejected.returncode != 0
    upstream_calls = len(mock.messages_requests())
    lines = messages_lines(proxy, wait_for=len(first) + 1)
    second = lines[len(first):]
    assert first and len(first) == upstream_calls, first
    assert second, lines
    for line in first:
        assert line["http.response.status_code"] == 200 and "error.type" not in line, line
        assert line["agw.stream"] is True, line
        assert line["gen_ai.usage.input_tokens"] > 0 and line["gen_ai.usage.output_tokens"] > 0, line
        assert line["agw.upstream.status_code"] == 200 and line["agw.upstream.ttfb_ms"] >= 0, line
        assert line["gen_ai.request.model"] == line["agw.upstream.request.model"], line
        assert line["http.response.body.size"] > 0 and line["http.request.body.size"] > 0, line
    for line in second:
        assert line["error.type"] == "guard_rejected", line
        assert line["agw.guards"] == [{"id": "request[0]", "action": "reject", "spans": 1}], line
        assert line["http.response.status_code"] == 400 and "agw.upstream.status_code" not in line, line
    # Who: one client key (as a hash), and Claude Code's session per prompt.
    for line in lines:
        assert line["agw.backend"] == "default/anthropic" and line["agw.route_type"] == "Messages"
        assert line["agw.client.key_sha256"].startswith("sha256:"), line
        assert line["user_agent.original"].startswith("claude-cli/"), line
        assert line["gen_ai.request.model"].startswith("claude-"), line
        assert line["client.address"] == "127.0.0.1", line
        assert line["session.id"] in line["user.id"], line
    assert len({line["agw.client.key_sha256"] for line in lines}) == 1
    sessions = [{line["session.id"] for line in part} for part in (first, second)]
    assert all(len(s) == 1 for s in sessions) and sessions[0] != sessions[1], sessions
    assert_no_secrets(proxy)


def test_sdk_lines_carry_usage_request_ids_and_masks(mock, start_proxy):
    proxy = start_proxy(config(mock.port, guards=TUTORIAL_GUARD + MASK_EMAIL, key=PROXY_KEY))
    client = anthropic.Anthropic(base_url=proxy.url, api_key=CLIENT_KEY, max_retries=0)
    raw = client.messages.with_raw_response.create(
        model=MODEL, max_tokens=64, extra_headers={"x-request-id": "trace-me-42"},
        messages=[{"role": "user", "content": "mail a.b@example.com about Kubernetes"}])
    assert raw.headers["x-request-id"] == "trace-me-42"
    reply = raw.parse()
    assert mock.messages_requests()[-1].headers["x-request-id"] == "trace-me-42"
    # A malformed id is replaced, and the replacement is what everyone sees.
    raw = client.messages.with_raw_response.create(
        model=MODEL, max_tokens=64, extra_headers={"x-request-id": "x" * 500},
        messages=[{"role": "user", "content": "What is Kubernetes?"}])
    replaced = raw.headers["x-request-id"]
    assert len(replaced) == 32 and replaced == mock.messages_requests()[-1].headers["x-request-id"]
    lines = messages_lines(proxy, wait_for=2)
    first, second = lines
    assert first["request_id"] == "trace-me-42" and second["request_id"] == replaced
    assert first["agw.stream"] is False
    assert first["gen_ai.usage.input_tokens"] == reply.usage.input_tokens
    assert first["gen_ai.usage.output_tokens"] == reply.usage.output_tokens
    assert first["gen_ai.response.model"] == MODEL
    assert first["agw.guards"] == [{"id": "request[1]", "action": "mask", "spans": 1}]
    assert "a.b@example.com" not in proxy.logs()


def test_a_client_that_leaves_mid_stream_still_gets_a_line(mock, start_proxy):
    mock.faults.event_gap = 0.3
    proxy = start_proxy(config(mock.port))
    body = json.dumps({"model": MODEL, "max_tokens": 64, "stream": True,
                       "messages": [{"role": "user", "content": "What is Kubernetes?"}]}).encode()
    request = (f"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
               f"x-api-key: {CLIENT_KEY}\r\ncontent-length: {len(body)}\r\n\r\n").encode() + body
    with socket.create_connection(("127.0.0.1", proxy.port)) as sock:
        sock.sendall(request)
        received = b""
        while b"message_start" not in received:
            received += sock.recv(4096)
    (line,) = messages_lines(proxy)
    assert line["error.type"] == "client_aborted", line
    assert line["http.response.status_code"] == 200 and line["agw.stream"] is True, line
    assert line["gen_ai.usage.input_tokens"] > 0, line


def test_access_log_text_and_off(mock, start_proxy):
    text = start_proxy(config(mock.port), "--access-log", "text")
    client = anthropic.Anthropic(base_url=text.url, api_key=CLIENT_KEY, max_retries=0)
    client.messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "What is Kubernetes?"}])
    deadline = time.time() + 10
    while " POST /v1/messages 200 " not in text.logs() and time.time() < deadline:
        time.sleep(0.05)
    (line,) = [l for l in text.logs().splitlines() if " POST /v1/messages 200 " in l]
    assert f"model={MODEL}" in line and "backend=default/anthropic" in line and "tokens=" in line, line
    off = start_proxy(config(mock.port), "--access-log", "off")
    client = anthropic.Anthropic(base_url=off.url, api_key=CLIENT_KEY, max_retries=0)
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "What is Kubernetes?"}])
    assert len(raw.headers["x-request-id"]) == 32, "ids are kept even with the log off"
    time.sleep(0.3)
    assert "/v1/messages" not in off.logs()


def test_output_to_a_file_has_no_colour_codes(mock, start_proxy):
    proxy = start_proxy(config(mock.port))
    client = anthropic.Anthropic(base_url=proxy.url, api_key=CLIENT_KEY, max_retries=0)
    try:
        client.messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "a credit card?"}])
    except anthropic.BadRequestError:
        pass
    proxy.stop()
    output = Path(proxy.log.name).read_text(errors="replace")
    assert "request rejected by guard" in output, output
    assert "\x1b[" not in output, output
