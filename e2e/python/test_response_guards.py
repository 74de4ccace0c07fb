"""Response guards through the real agw-proxy: the real Claude Code CLI and the Anthropic SDK
get the model's reply masked (JSON and SSE, matches split across deltas) or stopped with the
guard's message; agwctl checks captured responses offline."""

import os
import subprocess
import time

import anthropic
import pytest

from conftest import binary, claude_bin, run_claude

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
{streaming}        response:
        - regex:
            action: Mask
            builtins: [Email, CreditCard]
        - response:
            message: "The reply mentioned an internal codename"
          regex:
            action: Reject
            matches: ["project falcon"]
    auth:
      secretRef: {{name: anthropic-secret}}
"""

# The reply: an email and a card number, each split across text_deltas.
LEAKY = ["Sure. Write to jane.d", "oe@exam", "ple.com; the card on file is 4111 11", "11 1111 1111", ". Anything else?"]
MASKED = "Sure. Write to <EMAIL_ADDRESS>; the card on file is <CREDIT_CARD>. Anything else?"
CODENAME = ["The plan is called proj", "ect fal", "con and it ships soon."]


def backend(port: int, streaming: bool = True) -> str:
    return BACKEND.format(port=port, streaming="        streaming: Enabled\n" if streaming else "")


def client(url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=url, api_key="sk-ant-client-dummy", max_retries=0)


def metric(proxy, line: str) -> float:
    _, text = proxy.admin("/metrics")
    for row in text.splitlines():
        if row.startswith(line + " "):
            return float(row.split()[-1])
    return 0.0


def test_claude_code_prints_the_masked_streamed_reply(mock, start_proxy, workdir):
    mock.faults.reply_deltas = LEAKY
    proxy = start_proxy(backend(mock.port))
    result = run_claude(proxy.url, "Who do I write to?", workdir / "home")
    assert result.returncode == 0, result.stdout + result.stderr
    assert MASKED in result.stdout, result.stdout
    assert "jane" not in result.stdout and "4111" not in result.stdout
    assert all(r.json().get("stream") for r in mock.messages_requests()), "the CLI fell back to non-streaming"
    guard = 'agw_guard_decisions_total{backend="default/anthropic",guard="response[0]",action="mask"}'
    assert metric(proxy, guard) >= 2


def test_claude_code_prints_the_guard_message_and_exits_without_retrying(mock, start_proxy, workdir):
    mock.faults.reply_deltas = CODENAME
    proxy = start_proxy(backend(mock.port))
    started = time.time()
    result = run_claude(proxy.url, "What is the plan called?", workdir / "home", timeout=60)
    elapsed = time.time() - started
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "API Error: 400 The reply mentioned an internal codename" in output, output
    assert "falcon" not in output.lower()
    assert elapsed < 10, f"took {elapsed:.1f}s: the CLI retried with backoff"
    # Claude Code answers any mid-stream error event (whatever its type) by asking again
    # without streaming, its "non-streaming fallback" (2.1.331 tries three variants); the JSON
    # guard rejects each with a 400 and x-should-retry: false, and the CLI gives up at once.
    # Never a second streamed attempt, never a backoff.
    kinds = [bool(r.json().get("stream")) for r in mock.messages_requests()]
    assert kinds[0] is True and not any(kinds[1:]), kinds
    stopped = 'agw_guard_decisions_total{backend="default/anthropic",guard="response[1]",action="reject"}'
    assert metric(proxy, stopped) == len(kinds)


def test_claude_code_without_its_fallback_sends_one_request(mock, start_proxy, workdir):
    """With CLAUDE_CODE_DISABLE_NONSTREAMING_FALLBACK the SSE error event alone ends the run."""
    mock.faults.reply_deltas = CODENAME
    proxy = start_proxy(backend(mock.port))
    home = workdir / "home"
    home.mkdir()
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "ANTHROPIC_BASE_URL": proxy.url,
           "ANTHROPIC_API_KEY": "sk-ant-client-dummy", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
           "DISABLE_AUTOUPDATER": "1", "CI": "1", "CLAUDE_CODE_DISABLE_NONSTREAMING_FALLBACK": "1"}
    result = subprocess.run([claude_bin(), "-p", "What is the plan called?"], env=env, capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "API Error: The reply mentioned an internal codename" in output, output
    assert [bool(r.json().get("stream")) for r in mock.messages_requests()] == [True]


def test_sdk_stream_accumulates_the_masked_text_with_usage_intact(mock, start_proxy):
    mock.faults.reply_deltas = LEAKY
    proxy = start_proxy(backend(mock.port))
    messages = [{"role": "user", "content": "Who do I write to?"}]
    with client(proxy.url).messages.stream(model=MODEL, max_tokens=64, messages=messages) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == MASKED
    assert final.content[0].text == MASKED
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == len("".join(LEAKY).split(" "))
    assert final.usage.input_tokens > 0


def test_sdk_stream_stopped_by_a_reject_raises_the_guard_message(mock, start_proxy):
    mock.faults.reply_deltas = CODENAME
    proxy = start_proxy(backend(mock.port))
    messages = [{"role": "user", "content": "What is the plan called?"}]
    received = []
    with pytest.raises(anthropic.APIStatusError) as err:
        with client(proxy.url).messages.stream(model=MODEL, max_tokens=64, messages=messages) as stream:
            for text in stream.text_stream:
                received.append(text)
    assert "The reply mentioned an internal codename" in str(err.value)
    assert "falcon" not in "".join(received).lower()


def test_json_replies_are_masked_and_rejected_with_the_guard_header(mock, start_proxy):
    mock.faults.reply_deltas = LEAKY
    proxy = start_proxy(backend(mock.port))
    messages = [{"role": "user", "content": "Who do I write to?"}]
    reply = client(proxy.url).messages.create(model=MODEL, max_tokens=64, messages=messages)
    assert reply.content[0].text == MASKED
    assert reply.usage.output_tokens > 0
    mock.faults.reply_deltas = CODENAME
    with pytest.raises(anthropic.BadRequestError) as err:
        client(proxy.url).messages.create(model=MODEL, max_tokens=64, messages=messages)
    assert "The reply mentioned an internal codename" in str(err.value)
    assert err.value.response.headers["agw-guard"] == "response[1]"
    assert err.value.response.headers["x-should-retry"] == "false"


def test_without_streaming_enabled_streams_pass_as_in_agentgateway(mock, start_proxy):
    mock.faults.reply_deltas = LEAKY
    proxy = start_proxy(backend(mock.port, streaming=False))
    messages = [{"role": "user", "content": "Who do I write to?"}]
    with client(proxy.url).messages.stream(model=MODEL, max_tokens=64, messages=messages) as stream:
        assert "".join(stream.text_stream) == "".join(LEAKY)
    reply = client(proxy.url).messages.create(model=MODEL, max_tokens=64, messages=messages)
    assert reply.content[0].text == MASKED


def test_agwctl_checks_captured_json_and_sse_responses(mock, start_proxy, workdir):
    """Captures taken from the mock's real wire format, checked offline."""
    import json
    import urllib.request

    manifest = workdir / "backend.yaml"
    manifest.write_text(backend(mock.port))
    mock.faults.reply_deltas = LEAKY
    for stream, name in [(True, "reply.sse"), (False, "reply.json")]:
        body = json.dumps({"model": MODEL, "max_tokens": 64, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}).encode()
        request = urllib.request.Request(mock.url + "/v1/messages", data=body, headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as r:
            (workdir / name).write_bytes(r.read())
    for name in ["reply.sse", "reply.json"]:
        result = subprocess.run([binary("agwctl"), "check", str(manifest), "--response", str(workdir / name)], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("masked by response[0] (2×)"), result.stdout
        assert "<EMAIL_ADDRESS>" in result.stdout and "jane" not in result.stdout
    mock.faults.reply_deltas = CODENAME
    body = json.dumps({"model": MODEL, "max_tokens": 64, "stream": True, "messages": [{"role": "user", "content": "hi"}]}).encode()
    request = urllib.request.Request(mock.url + "/v1/messages", data=body, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as r:
        (workdir / "codename.sse").write_bytes(r.read())
    result = subprocess.run([binary("agwctl"), "check", str(manifest), "--response", str(workdir / "codename.sse")], capture_output=True, text=True, timeout=30)
    assert result.returncode == 3
    assert result.stdout.startswith("stream stopped by response[1]: The reply mentioned an internal codename")
    assert result.stdout.rstrip().endswith('"message":"The reply mentioned an internal codename"}}')
