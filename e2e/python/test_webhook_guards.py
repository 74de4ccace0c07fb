"""Webhook guards through the real agw-proxy, against a small real checker
(guard_checker.py, agentgateway's guardrail webhook format on 127.0.0.1): allow, mask and
reject on requests and JSON replies, a checker that is down (FailOpen and FailClosed), slow
(timeout) or answers nonsense, with the Anthropic SDK and the real Claude Code CLI."""

import socket
import time

import anthropic
import pytest

from conftest import run_claude
from guard_checker import REJECT_MESSAGE, Checker

MODEL = "claude-sonnet-4-5-20250929"

BACKEND = """\
apiVersion: v1
kind: Secret
metadata: {{name: anthropic-secret}}
stringData:
  Authorization: sk-ant-proxy-key
---
apiVersion: agentgateway.dev/v1alpha1
kind: Backend
metadata: {{name: anthropic}}
spec:
  ai:
    provider:
      anthropic: {{}}
      host: 127.0.0.1
      port: {port}
  policies:
    ai:
      promptGuard:
        {phase}:
        - webhook:
            url: {url}
            headers: {{x-checker-token: '"t0k3n"'}}
            forwardHeaderMatches: [{{name: x-team, value: payments}}]
            failureMode: {mode}
            timeout: {timeout}
    auth:
      secretRef: {{name: anthropic-secret}}
"""


@pytest.fixture
def checker():
    c = Checker()
    yield c
    c.close()


def backend(upstream: int, url: str, phase: str = "request", mode: str = "FailClosed", timeout: str = "2s") -> str:
    return BACKEND.format(port=upstream, url=url, phase=phase, mode=mode, timeout=timeout)


def client(url: str, **headers) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=url, api_key="sk-ant-client-dummy", max_retries=0,
                               default_headers=headers or None)


def ask(proxy, text: str, **headers):
    return client(proxy.url, **headers).messages.create(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": text}])


def metric(proxy, line: str) -> float:
    _, text = proxy.admin("/metrics")
    for row in text.splitlines():
        if row.startswith(line + " "):
            return float(row.split()[-1])
    return 0.0


def calls(proxy, guard: str, outcome: str) -> float:
    return metric(proxy, f'agw_guard_webhook_calls_total{{backend="default/anthropic",guard="{guard}",outcome="{outcome}"}}')


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_allowed_request_reaches_the_provider_and_the_checker_sees_only_texts(mock, start_proxy, checker):
    proxy = start_proxy(backend(mock.port, checker.url))
    reply = ask(proxy, "How do I list pods?", **{"x-team": "payments", "x-other": "no"})
    assert reply.content[0].text == "You asked about: How do I list pods?"
    [(path, headers, payload)] = checker.calls
    assert path == "/request"
    assert payload == {"body": {"messages": [{"role": "user", "content": "How do I list pods?"}]}}
    # Configured and matched headers only: never the client's key, never other headers.
    assert headers["x-checker-token"] == "t0k3n" and headers["x-team"] == "payments"
    assert not {"x-api-key", "authorization", "x-other", "anthropic-version"} & set(headers)
    assert calls(proxy, "request[0]", "pass") == 1


def test_masked_request_is_forwarded_with_the_checkers_text(mock, start_proxy, checker):
    proxy = start_proxy(backend(mock.port, checker.url))
    reply = ask(proxy, "My code is secret-1234, keep it.")
    assert reply.content[0].text == "You asked about: My code is <CODE>, keep it."
    [sent] = mock.messages_requests()
    assert b"secret-1234" not in sent.body
    assert sent.json()["messages"][0]["content"] == "My code is <CODE>, keep it."
    assert calls(proxy, "request[0]", "mask") == 1


def test_rejected_request_never_reaches_the_provider(mock, start_proxy, checker):
    proxy = start_proxy(backend(mock.port, checker.url))
    with pytest.raises(anthropic.BadRequestError) as err:
        ask(proxy, "Please BLOCKME now")
    assert err.value.status_code == 400
    assert err.value.response.headers["agw-guard"] == "request[0]"
    assert err.value.response.headers["x-should-retry"] == "false"
    assert err.value.body["error"]["message"] == REJECT_MESSAGE
    assert mock.messages_requests() == []


@pytest.mark.parametrize("mode", ["FailClosed", "FailOpen"])
def test_checker_down(mock, start_proxy, mode):
    proxy = start_proxy(backend(mock.port, f"http://127.0.0.1:{closed_port()}", mode=mode))
    if mode == "FailOpen":
        assert ask(proxy, "secret-99 unchecked").content[0].text == "You asked about: secret-99 unchecked"
    else:
        with pytest.raises(anthropic.BadRequestError) as err:
            ask(proxy, "secret-99 unchecked")
        assert "could not be reached" in err.value.body["error"]["message"]
        assert err.value.response.headers["agw-guard"] == "request[0]"
        assert mock.messages_requests() == []
    assert calls(proxy, "request[0]", "error") == 1


def test_slow_checker_times_out_and_fails_closed(mock, start_proxy, checker):
    checker.mode, checker.delay = "slow", 3.0
    proxy = start_proxy(backend(mock.port, checker.url, timeout="300ms"))
    started = time.time()
    with pytest.raises(anthropic.BadRequestError) as err:
        ask(proxy, "hello")
    assert time.time() - started < 2.5
    assert "did not answer within 300ms" in err.value.body["error"]["message"]
    assert mock.messages_requests() == []
    assert calls(proxy, "request[0]", "timeout") == 1


def test_slow_checker_fails_open_when_asked(mock, start_proxy, checker):
    checker.mode, checker.delay = "slow", 3.0
    proxy = start_proxy(backend(mock.port, checker.url, mode="FailOpen", timeout="300ms"))
    assert ask(proxy, "hello").content[0].text == "You asked about: hello"


def test_a_checker_answering_nonsense_is_no_pass(mock, start_proxy, checker):
    checker.mode = "garbage"
    proxy = start_proxy(backend(mock.port, checker.url))
    with pytest.raises(anthropic.BadRequestError) as err:
        ask(proxy, "hello")
    assert "no valid verdict" in err.value.body["error"]["message"]
    checker.mode = "error"
    with pytest.raises(anthropic.BadRequestError):
        ask(proxy, "hello")
    assert mock.messages_requests() == []


def test_response_guard_masks_and_rejects_json_replies(mock, start_proxy, checker):
    proxy = start_proxy(backend(mock.port, checker.url, phase="response"))
    assert ask(proxy, "hello").content[0].text == "You asked about: hello"
    reply = ask(proxy, "repeat secret-777 please")
    assert reply.content[0].text == "You asked about: repeat <CODE> please"
    assert checker.texts("/response") == ["You asked about: hello", "You asked about: repeat secret-777 please"]
    with pytest.raises(anthropic.BadRequestError) as err:
        ask(proxy, "say BLOCKME")
    assert err.value.response.headers["agw-guard"] == "response[0]"
    assert err.value.body["error"]["message"] == REJECT_MESSAGE
    assert [c[0] for c in checker.calls] == ["/response"] * 3
    assert calls(proxy, "response[0]", "mask") == 1 and calls(proxy, "response[0]", "reject") == 1


def test_response_guard_with_its_checker_down_stops_the_reply(mock, start_proxy):
    proxy = start_proxy(backend(mock.port, f"http://127.0.0.1:{closed_port()}", phase="response"))
    with pytest.raises(anthropic.BadRequestError) as err:
        ask(proxy, "repeat secret-777 please")
    assert "could not be reached" in err.value.body["error"]["message"]
    assert "secret-777" not in str(err.value.body)


def test_claude_code_sends_the_masked_prompt_and_prints_the_checkers_rejection(mock, start_proxy, checker, workdir):
    proxy = start_proxy(backend(mock.port, checker.url))
    result = run_claude(proxy.url, "Remember secret-4242 for me", workdir / "home")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "<CODE>" in result.stdout and "secret-4242" not in result.stdout, result.stdout
    assert all(b"secret-4242" not in r.body for r in mock.messages_requests())
    # Claude Code's whole prompt (its system prompt too) went to the checker as texts.
    assert any(t.startswith("You are Claude Code") or "Claude" in t for t in checker.texts("/request"))

    before = len(mock.messages_requests())
    started = time.time()
    result = run_claude(proxy.url, "Please BLOCKME", workdir / "home", timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert f"API Error: 400 {REJECT_MESSAGE}" in output, output
    assert time.time() - started < 15, "the CLI retried"
    assert len(mock.messages_requests()) == before
