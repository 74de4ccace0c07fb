"""The tutorial's steps 7 and 9 with the real Claude Code CLI through the real agw-proxy."""

import time

from conftest import config, run_claude


def test_innocent_prompt_gets_the_answer_with_the_proxy_key(mock, start_proxy, workdir):
    proxy = start_proxy(config(mock.port))
    result = run_claude(proxy.url, "What is Kubernetes?", workdir / "home")
    assert result.returncode == 0, result.stderr
    assert "Kubernetes is an open-source system" in result.stdout
    sent = mock.messages_requests()
    assert sent, "the CLI's request never reached the upstream"
    for request in sent:
        assert request.headers.get("x-api-key") == "sk-ant-proxy-key"
        assert "authorization" not in request.headers


def test_credit_card_prompt_is_rejected_before_the_upstream(mock, start_proxy, workdir):
    proxy = start_proxy(config(mock.port))
    started = time.time()
    result = run_claude(proxy.url, "What is a credit card", workdir / "home", timeout=60)
    elapsed = time.time() - started
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Rejected due to inappropriate content" in output, output
    assert elapsed < 5, f"took {elapsed:.1f}s: the CLI retried the rejection"
    prompts = [r.body for r in mock.messages_requests()]
    assert not any(b"credit card" in body for body in prompts), "the rejected prompt reached the upstream"
    status, metrics = proxy.admin("/metrics")
    assert 'agw_guard_decisions_total{backend="default/anthropic",guard="request[0]",action="reject"}' in metrics
