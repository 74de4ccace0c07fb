"""Faults and hot reload through the real agw-proxy."""

import json
import socket
import threading
import time
import urllib.request

import anthropic
import pytest

from conftest import MASK_EMAIL, TUTORIAL_GUARD, config, free_port

MODEL = "claude-sonnet-4-5-20250929"


def post(url: str, body: bytes, headers=None, timeout=10):
    request = urllib.request.Request(url + "/v1/messages", data=body, method="POST", headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def error_of(body: bytes) -> dict:
    payload = json.loads(body)
    assert payload["type"] == "error"
    return payload["error"]


def test_upstream_down_is_a_502_api_error(start_proxy):
    proxy = start_proxy(config(free_port()))
    status, _, body = post(proxy.url, b'{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"hi"}]}')
    assert status == 502
    assert error_of(body)["type"] == "api_error"


def test_slow_upstream_is_a_504(mock, start_proxy):
    mock.faults.delay_headers = 3
    proxy = start_proxy(config(mock.port), "--upstream-timeout", "1s")
    status, _, body = post(proxy.url, b'{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"hi"}]}')
    assert status == 504
    assert error_of(body)["type"] == "api_error"


def test_reset_mid_stream_reaches_the_client_and_the_proxy_stays_healthy(mock, start_proxy):
    proxy = start_proxy(config(mock.port))
    mock.faults.reset_after_events = 3
    client = anthropic.Anthropic(base_url=proxy.url, api_key="x", max_retries=0)
    with pytest.raises(Exception):
        with client.messages.stream(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "What is Kubernetes?"}]) as stream:
            for _ in stream.text_stream:
                pass
            stream.get_final_message()
    mock.faults.reset_after_events = None
    reply = client.messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "What is Kubernetes?"}])
    assert "Kubernetes" in reply.content[0].text


def test_oversize_body_is_413_request_too_large(mock, start_proxy):
    proxy = start_proxy(config(mock.port), "--max-body-bytes", "1024")
    big = json.dumps({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": "x" * 4096}]}).encode()
    status, _, body = post(proxy.url, big)
    assert status == 413
    assert error_of(body)["type"] == "request_too_large"
    assert mock.messages_requests() == []


def test_malformed_json_is_a_400_naming_the_problem(mock, start_proxy):
    proxy = start_proxy(config(mock.port))
    status, _, body = post(proxy.url, b'{"model": "m", "messages": [')
    assert status == 400
    error = error_of(body)
    assert error["type"] == "invalid_request_error"
    assert "line 1 column" in error["message"]


def test_truncated_body_does_not_hurt_the_proxy(mock, start_proxy):
    proxy = start_proxy(config(mock.port))
    with socket.create_connection(("127.0.0.1", proxy.port)) as s:
        s.sendall(b"POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{\"model\":")
    status, _, _ = post(proxy.url, b'{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"What is Kubernetes?"}]}')
    assert status == 200


def test_evasive_paths_are_still_guarded(mock, start_proxy):
    proxy = start_proxy(config(mock.port))
    body = b'{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"credit card"}]}'
    for path in ["//v1/messages", "/v1/./messages", "/v1/%6Dessages", "/v1/messages/count_tokens"]:
        request = urllib.request.Request(proxy.url + path, data=body, method="POST", headers={"content-type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request, timeout=10)
        assert err.value.code == 400, path
    assert mock.requests == []


def test_hot_reload_under_load_keeps_serving_and_ignores_a_corrupt_config(mock, start_proxy):
    proxy = start_proxy(config(mock.port))
    mock.faults.event_gap = 0.01
    client = anthropic.Anthropic(base_url=proxy.url, api_key="x", max_retries=0)
    failures, done = [], threading.Event()

    def load():
        while not done.is_set():
            try:
                with client.messages.stream(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "What is Kubernetes?"}]) as s:
                    "".join(s.text_stream)
            except Exception as e:  # noqa: BLE001 - every failure counts
                failures.append(repr(e))

    workers = [threading.Thread(target=load) for _ in range(4)]
    for w in workers:
        w.start()
    for i in range(6):
        proxy.config.write_text(config(mock.port, guards=TUTORIAL_GUARD if i % 2 else MASK_EMAIL))
        time.sleep(0.6)
    proxy.config.write_text(config(mock.port))
    time.sleep(1.0)
    proxy.config.write_text("apiVersion: agentgateway.dev/v1alpha1\nkind: Backend\nspec: {ai: {provider: {anthropic: {}}}, policies: {ai: {promptGuard: {request: [{regex: {matches: ['(?=x)']}}]}}}}\n")
    time.sleep(1.0)
    done.set()
    for w in workers:
        w.join()
    assert failures == []
    _, metrics = proxy.admin("/metrics")
    assert 'agw_bundle_reloads_total{result="error"}' in metrics
    status, _, body = post(proxy.url, b'{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"credit card"}]}')
    assert status == 400, "the last good policy (tutorial guard) must still be enforced"
    assert "Rejected due to inappropriate content" in error_of(body)["message"]


def test_sigterm_lets_a_stream_in_flight_finish(mock, start_proxy):
    proxy = start_proxy(config(mock.port))
    mock.faults.event_gap = 0.1
    client = anthropic.Anthropic(base_url=proxy.url, api_key="x", max_retries=0)
    result = {}

    def stream():
        with client.messages.stream(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "What is Kubernetes?"}]) as s:
            result["text"] = "".join(s.text_stream)

    worker = threading.Thread(target=stream)
    worker.start()
    time.sleep(0.5)
    proxy.process.terminate()
    worker.join(timeout=20)
    assert result.get("text", "").startswith("Kubernetes is"), result
    assert proxy.process.wait(timeout=10) == 0
