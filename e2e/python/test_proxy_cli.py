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


def test_readme_standalone_example_runs_as_documented(mock, workdir):
    """README's run command: examples/claude-code.yaml with ${ANTHROPIC_API_KEY} expanded; the
    upstream is pointed at the mock through the example's own AGW_UPSTREAM_* variables."""
    import os
    import subprocess

    from conftest import ROOT, binary, free_port

    port, admin = free_port(), free_port()
    env = dict(os.environ, ANTHROPIC_API_KEY="sk-ant-from-env", AGW_UPSTREAM_HOST="127.0.0.1", AGW_UPSTREAM_PORT=str(mock.port))
    args = [binary("agw-proxy"), "--config", str(ROOT / "examples" / "claude-code.yaml"), "--listen", f"127.0.0.1:{port}", "--admin", f"127.0.0.1:{admin}"]
    process = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True)
    try:
        banner = "".join(process.stderr.readline() for _ in range(6))
        assert f"ANTHROPIC_BASE_URL=http://localhost:{port} claude -p" in banner, banner
        answered = run_claude(f"http://127.0.0.1:{port}", "What is Kubernetes?", workdir / "home")
        assert "Kubernetes is an open-source system" in answered.stdout, answered.stderr
        assert mock.messages_requests()[-1].headers["x-api-key"] == "sk-ant-from-env"
        rejected = run_claude(f"http://127.0.0.1:{port}", "What is a credit card", workdir / "home")
        assert rejected.returncode != 0
        assert "Rejected due to inappropriate content" in rejected.stdout + rejected.stderr
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_missing_api_key_variable_fails_fast_with_its_name(workdir):
    import os
    import subprocess

    from conftest import ROOT, binary

    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    result = subprocess.run([binary("agw-proxy"), "--config", str(ROOT / "examples" / "claude-code.yaml"), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "ANTHROPIC_API_KEY is not set" in result.stderr
