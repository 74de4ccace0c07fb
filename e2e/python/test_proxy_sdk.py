"""The official Anthropic Python SDK through agw-proxy: JSON, streaming, Mask and Reject."""

import json

import anthropic
import pytest

from conftest import MASK_EMAIL, TUTORIAL_GUARD, config

MODEL = "claude-sonnet-4-5-20250929"


def client(url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=url, api_key="sk-ant-client-dummy", max_retries=0)


def test_non_streaming_call(mock, start_proxy):
    proxy = start_proxy(config(mock.port))
    reply = client(proxy.url).messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "What is Kubernetes?"}])
    assert "Kubernetes" in reply.content[0].text
    assert mock.messages_requests()[-1].headers["x-api-key"] == "sk-ant-proxy-key"


def test_streaming_call_arrives_as_events_and_counts_tokens(mock, start_proxy):
    proxy = start_proxy(config(mock.port))
    with client(proxy.url).messages.stream(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "What is Kubernetes?"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text.startswith("Kubernetes is")
    assert final.usage.output_tokens > 0
    _, metrics = proxy.admin("/metrics")
    assert 'agw_tokens_total{backend="default/anthropic",direction="output"}' in metrics


def test_reject_is_a_bad_request_error_with_the_guard_message(mock, start_proxy):
    proxy = start_proxy(config(mock.port))
    with pytest.raises(anthropic.BadRequestError) as err:
        client(proxy.url).messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "Is my credit card safe?"}])
    assert err.value.status_code == 400
    assert "Rejected due to inappropriate content" in str(err.value)
    assert err.value.response.headers["agw-guard"] == "request[0]"
    assert err.value.response.headers["x-should-retry"] == "false"
    assert mock.messages_requests() == []


def test_mask_replaces_the_email_and_keeps_every_other_byte(mock, start_proxy):
    proxy = start_proxy(config(mock.port, guards=MASK_EMAIL))
    messages = [{"role": "user", "content": "Write to jane.doe@example.com about the ünïcode plan"}]
    client(mock.url).messages.create(model=MODEL, max_tokens=64, messages=messages, metadata={"user_id": "u1"})
    direct = mock.messages_requests()[-1].body
    client(proxy.url).messages.create(model=MODEL, max_tokens=64, messages=messages, metadata={"user_id": "u1"})
    proxied = mock.messages_requests()[-1].body
    assert b"jane.doe@example.com" not in proxied
    expected = direct.replace(b"jane.doe@example.com", b"<EMAIL_ADDRESS>")
    assert proxied == expected


def test_pinned_model_is_rewritten_and_errors_explain_it(mock, start_proxy):
    proxy = start_proxy(config(mock.port, model="claude-sonnet-4-5-20250929"))
    raw = client(proxy.url).messages.with_raw_response.create(model="claude-opus-4-1", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    assert raw.headers["agw-model-rewrite"] == "claude-opus-4-1 -> claude-sonnet-4-5-20250929"
    assert json.loads(mock.messages_requests()[-1].body)["model"] == "claude-sonnet-4-5-20250929"
    mock.faults.status = 400
    mock.faults.error_message = "thinking mode isn't enabled"
    with pytest.raises(anthropic.BadRequestError) as err:
        client(proxy.url).messages.create(model="claude-opus-4-1", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    assert "agw pinned the model from claude-opus-4-1 to claude-sonnet-4-5-20250929" in str(err.value)
