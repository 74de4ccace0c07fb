"""agentgateway's request edits through the real agw-proxy: prompt enrichment, defaults and
overrides with the real Claude Code CLI (streaming, tools), token counting and model aliases
with the Anthropic SDK, and path-suffix routes."""

import json
import urllib.error
import urllib.request

import anthropic

from conftest import run_claude
from test_access_log import access_lines

POLICY = "AGW-POLICY: never print secrets."
CAP = 4096

EDITS = """\
apiVersion: v1
kind: Secret
metadata: {{name: anthropic-secret}}
stringData:
  Authorization: sk-ant-proxy-key
---
apiVersion: agentgateway.dev/v1alpha1
kind: AgentgatewayBackend
metadata: {{name: anthropic}}
spec:
  ai:
    provider:
      anthropic: {{}}
      host: 127.0.0.1
      port: {port}
  policies:
    ai:
      routes:
        '/v1/messages': Messages
        '*': Passthrough
      prompt:
        prepend:
        - {{role: SYSTEM, content: "{policy}"}}
      defaults:
      - {{field: top_k, value: 40}}
      overrides:
      - {{field: max_tokens, value: {cap}}}
      modelAliases:
        fast: claude-haiku-4-5
      promptGuard:
        request:
        - response: {{message: "Rejected due to inappropriate content"}}
          regex: {{action: Reject, matches: ["credit card"]}}
    auth:
      secretRef: {{name: anthropic-secret}}
"""


def edits_config(port: int) -> str:
    return EDITS.format(port=port, policy=POLICY, cap=CAP)


def client(url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=url, api_key="sk-ant-client-dummy", max_retries=0)


def test_claude_code_works_with_the_prompt_enriched_and_max_tokens_capped(mock, start_proxy, workdir):
    proxy = start_proxy(edits_config(mock.port))
    result = run_claude(proxy.url, "What is Kubernetes?", workdir / "home")
    assert result.returncode == 0, result.stderr
    assert "Kubernetes is an open-source system" in result.stdout
    sent = [r.json() for r in mock.messages_requests()]
    streamed = [body for body in sent if body.get("stream")]
    assert streamed, "Claude Code's streaming request never reached the upstream"
    for body in sent:
        # The policy is a system block of its own, in front of Claude Code's blocks, whose
        # cache_control breakpoints survive.
        assert body["system"][0] == {"type": "text", "text": POLICY}, body["system"][:2]
        assert body["max_tokens"] == CAP
        assert "top_k" in body
    with_tools = [body for body in streamed if body.get("tools")]
    assert with_tools, "Claude Code sent its tools"
    assert any("cache_control" in block for body in streamed for block in body["system"][1:])


def test_guards_still_reject_with_edits_configured(mock, start_proxy, workdir):
    proxy = start_proxy(edits_config(mock.port))
    result = run_claude(proxy.url, "What is a credit card", workdir / "home", timeout=60)
    assert result.returncode != 0
    assert "Rejected due to inappropriate content" in result.stdout + result.stderr
    assert not any(b"credit card" in r.body for r in mock.messages_requests())


def test_count_tokens_sees_the_same_enriched_prompt_as_messages(mock, start_proxy):
    proxy = start_proxy(edits_config(mock.port))
    api = client(proxy.url)
    kwargs = dict(
        model="claude-sonnet-4-5",
        system=[{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "What is Kubernetes?"}],
    )
    counted = api.messages.count_tokens(**kwargs)
    assert counted.input_tokens > 0
    api.messages.create(max_tokens=20000, **kwargs)
    count_body = next(r for r in mock.requests if r.path.startswith("/v1/messages/count_tokens")).json()
    message_body = mock.messages_requests()[-1].json()
    assert count_body["system"] == message_body["system"]
    assert count_body["messages"] == message_body["messages"]
    assert message_body["system"] == [{"type": "text", "text": POLICY}, *kwargs["system"]]
    # Sampling fields are for Messages only: the count endpoint takes none.
    assert "max_tokens" not in count_body and "top_k" not in count_body
    assert message_body["max_tokens"] == CAP


def test_a_model_alias_is_sent_as_its_model_and_logged_so(mock, start_proxy):
    proxy = start_proxy(edits_config(mock.port))
    raw = client(proxy.url).messages.with_raw_response.create(
        model="fast", max_tokens=64, messages=[{"role": "user", "content": "What is Kubernetes?"}]
    )
    assert raw.headers["agw-model-rewrite"] == "fast -> claude-haiku-4-5"
    assert raw.parse().model == "claude-haiku-4-5"
    assert mock.messages_requests()[-1].json()["model"] == "claude-haiku-4-5"
    (line,) = [l for l in access_lines(proxy) if l["url.path"] == "/v1/messages"]
    assert line["gen_ai.request.model"] == "fast"
    assert line["agw.upstream.request.model"] == "claude-haiku-4-5"


def test_a_prefixed_messages_path_is_guarded_not_passed_through(mock, start_proxy, workdir):
    """`/v1/messages` is a suffix: `/team-a/v1/messages` is a Messages route, so a prefix in
    ANTHROPIC_BASE_URL cannot carry a prompt past the guards through `*`."""
    proxy = start_proxy(edits_config(mock.port))
    result = run_claude(f"{proxy.url}/team-a", "What is a credit card", workdir / "home", timeout=60)
    assert result.returncode != 0
    assert "Rejected due to inappropriate content" in result.stdout + result.stderr
    assert not any(b"credit card" in r.body for r in mock.requests)
    body = json.dumps({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": "credit card"}]}).encode()
    for path in ["/team-a/v1/messages;x=1", "/team-a/V1/Messages", "/team-a/v1%2Fmessages", "/team-a/v1/messages%252F"]:
        request = urllib.request.Request(proxy.url + path, data=body, method="POST", headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status = response.status
        except urllib.error.HTTPError as err:
            status = err.code
        assert status in (400, 404), f"{path}: {status}"
    assert not any(b"credit card" in r.body for r in mock.requests), "a prompt passed unguarded"
