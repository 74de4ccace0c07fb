"""Governance with the real Claude Code CLI through the real agw-proxy: developers call with
their own gateway keys (ANTHROPIC_AUTH_TOKEN or an apiKeyHelper script), a wrong key is
refused before the upstream, a spent daily token budget is refused without a retry storm,
and examples/claude-code-team.yaml runs as the README shows."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

from conftest import ROOT, binary, claude_bin, free_port

ALICE = "agw-alice-5f0c1e9a7d3b2c4e"
BOB = "agw-bob-9a8b7c6d5e4f3a2b1c"
PROXY_KEY = "sk-ant-proxy-key"

TEAM = """\
apiVersion: v1
kind: Secret
metadata: {{name: anthropic-secret}}
stringData: {{Authorization: {proxy_key}}}
---
apiVersion: v1
kind: Secret
metadata: {{name: team-keys}}
stringData:
{entries}
---
apiVersion: agentgateway.dev/v1alpha1
kind: Backend
metadata: {{name: anthropic}}
spec:
  ai:
    provider: {{anthropic: {{}}, host: 127.0.0.1, port: {port}}}
  policies:
    auth: {{secretRef: {{name: anthropic-secret}}}}
    apiKeyAuthentication: {{secretRef: {{name: team-keys}}}}
    authorization: {{rules: [{{groups: [dev]}}]}}
    rateLimit:
      local:
      - {{tokens: {bob_tokens}, unit: Days, per: Identity, identities: [bob]}}
"""


def sha256(key: str) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def team(port: int, bob_tokens: int = 1_000_000, extra: str = "") -> str:
    entries = (
        f"  alice: '{{\"keyHash\": \"{sha256(ALICE)}\", \"metadata\": {{\"groups\": [\"dev\"]}}}}'\n"
        f"  bob: '{{\"key\": \"{BOB}\", \"metadata\": {{\"groups\": [\"dev\"]}}}}'\n"
        f"  mallory: '{{\"key\": \"agw-mallory-00112233445566\"}}'\n" + extra
    )
    return TEAM.format(proxy_key=PROXY_KEY, entries=entries.rstrip("\n"), port=port, bob_tokens=bob_tokens)


def claude(base_url: str, home: Path, prompt: str = "What is Kubernetes?", timeout: float = 60, **env_extra: str):
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": base_url,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CI": "1",
        **env_extra,
    }
    started = time.time()
    result = subprocess.run([claude_bin(), "-p", prompt], env=env, capture_output=True, text=True, timeout=timeout)
    return result, time.time() - started


def assert_no_gateway_key_upstream(mock):
    for request in mock.requests:
        assert request.headers.get("x-api-key") == PROXY_KEY, request.headers
        assert "authorization" not in {k.lower() for k in request.headers}, request.headers
        for value in request.headers.values():
            assert ALICE not in value and BOB not in value, "a gateway key reached the provider"


def test_auth_token_is_the_developers_identity_and_never_reaches_the_provider(mock, start_proxy, workdir):
    proxy = start_proxy(team(mock.port), "--access-log", "json")
    result, _ = claude(proxy.url, workdir / "home", ANTHROPIC_AUTH_TOKEN=ALICE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Kubernetes is an open-source system" in result.stdout
    assert mock.messages_requests(), "the request never reached the upstream"
    assert_no_gateway_key_upstream(mock)
    logs = proxy.logs()
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{") and '"agw.client.identity"' in line]
    assert lines and all(line["agw.client.identity"] == "alice" for line in lines), logs
    assert ALICE not in logs
    _, metrics = proxy.admin("/metrics")
    assert 'agw_client_decisions_total{backend="default/anthropic",identity="alice",decision="allowed"}' in metrics
    assert 'agw_client_tokens_total{backend="default/anthropic",identity="alice"}' in metrics


def test_api_key_helper_output_is_accepted(mock, start_proxy, workdir):
    proxy = start_proxy(team(mock.port))
    home = workdir / "home"
    helper = workdir / "agw-key.sh"
    helper.write_text(f"#!/bin/sh\necho {BOB}\n")
    helper.chmod(0o755)
    (home / ".claude").mkdir(parents=True)
    (home / ".claude" / "settings.json").write_text(json.dumps({"apiKeyHelper": str(helper)}))
    result, _ = claude(proxy.url, home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Kubernetes is an open-source system" in result.stdout
    assert_no_gateway_key_upstream(mock)


def test_a_wrong_key_fails_at_once_with_a_clear_message_and_no_upstream_call(mock, start_proxy, workdir):
    proxy = start_proxy(team(mock.port))
    result, elapsed = claude(proxy.url, workdir / "home", ANTHROPIC_AUTH_TOKEN="agw-not-a-key-0123456789")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "401" in output and "the gateway key is not valid" in output, output
    assert elapsed < 5, f"took {elapsed:.1f}s: the CLI retried the 401"
    assert mock.requests == [], "a request without a valid key reached the upstream"
    # Without any key (the CLI refuses to start without one; other clients may not), the
    # message says one is required.
    request = urllib.request.Request(f"{proxy.url}/v1/messages", data=b"{}", method="POST")
    try:
        urllib.request.urlopen(request, timeout=5)
        raise AssertionError("a request without a key was let in")
    except urllib.error.HTTPError as e:
        assert e.code == 401 and e.headers["x-should-retry"] == "false"
        assert json.loads(e.read())["error"]["type"] == "authentication_error"
    assert mock.requests == []


def test_an_identity_not_on_the_allow_list_gets_403(mock, start_proxy, workdir):
    proxy = start_proxy(team(mock.port))
    result, elapsed = claude(proxy.url, workdir / "home", ANTHROPIC_AUTH_TOKEN="agw-mallory-00112233445566")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "403" in output and 'identity "mallory" is not allowed' in output, output
    assert elapsed < 5, f"took {elapsed:.1f}s"
    assert mock.requests == []


def test_a_spent_daily_budget_is_refused_before_the_upstream_without_retries(mock, start_proxy, workdir):
    # The mock reports roughly body-size/4 input tokens: Claude Code's first request spends 100.
    proxy = start_proxy(team(mock.port, bob_tokens=100))
    first, _ = claude(proxy.url, workdir / "home", ANTHROPIC_AUTH_TOKEN=BOB)
    assert first.returncode == 0, first.stdout + first.stderr
    spent = len(mock.requests)
    second, elapsed = claude(proxy.url, workdir / "home", ANTHROPIC_AUTH_TOKEN=BOB)
    output = second.stdout + second.stderr
    assert second.returncode != 0
    assert "429" in output and "rate limit of 100 tokens per day (UTC) reached" in output, output
    assert elapsed < 5, f"took {elapsed:.1f}s: the CLI retried a spent daily budget"
    assert len(mock.requests) == spent, "a request over budget reached the upstream"
    refused = [line for line in proxy.logs().splitlines() if "rate_limited" in line]
    assert len(refused) == 1, "the CLI sent the refused request more than once"
    # alice's budget is her own.
    third, _ = claude(proxy.url, workdir / "home", ANTHROPIC_AUTH_TOKEN=ALICE)
    assert third.returncode == 0, third.stdout + third.stderr


def test_editing_the_key_secret_takes_effect_without_a_restart(mock, start_proxy, workdir):
    proxy = start_proxy(team(mock.port))
    carol = "agw-carol-aabbccddeeff0011"

    def status(key: str) -> int:
        request = urllib.request.Request(f"{proxy.url}/v1/models", headers={"x-api-key": key})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as e:
            return e.code

    assert status(carol) == 401
    proxy.config.write_text(team(mock.port, extra=f"  carol: '{{\"key\": \"{carol}\", \"metadata\": {{\"groups\": [\"dev\"]}}}}'\n"))
    deadline = time.time() + 10
    while status(carol) != 200 and time.time() < deadline:
        time.sleep(0.1)
    assert status(carol) == 200
    # A bad entry is refused and the last good keys keep serving.
    proxy.config.write_text(team(mock.port, extra="  dave: '{\"keyhash\": \"x\"}'\n"))
    time.sleep(1.5)
    assert "Secret default/team-keys data.dave" in proxy.logs()
    assert status(carol) == 200


def test_the_team_example_runs_as_the_readme_shows(mock, workdir):
    port, admin = free_port(), free_port()
    env = dict(
        os.environ,
        ANTHROPIC_API_KEY=PROXY_KEY,
        AGW_KEY_ALICE=ALICE,
        AGW_KEY_BOB=BOB,
        AGW_BOB_DAILY_TOKENS="100",
        AGW_UPSTREAM_HOST="127.0.0.1",
        AGW_UPSTREAM_PORT=str(mock.port),
    )
    args = [binary("agw-proxy"), "--config", str(ROOT / "examples" / "claude-code-team.yaml"),
            "--listen", f"127.0.0.1:{port}", "--admin", f"127.0.0.1:{admin}"]
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{admin}/readyz", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        alice, _ = claude(url, workdir / "home", ANTHROPIC_AUTH_TOKEN=ALICE)
        assert "Kubernetes is an open-source system" in alice.stdout, alice.stdout + alice.stderr
        bob, _ = claude(url, workdir / "home", ANTHROPIC_AUTH_TOKEN=BOB)
        assert bob.returncode == 0, bob.stdout + bob.stderr
        bob, _ = claude(url, workdir / "home", ANTHROPIC_AUTH_TOKEN=BOB)
        assert "429" in bob.stdout + bob.stderr, bob.stdout + bob.stderr
        alice, _ = claude(url, workdir / "home", ANTHROPIC_AUTH_TOKEN=ALICE)
        assert alice.returncode == 0, "the daily budget is bob's only"
        assert_no_gateway_key_upstream(mock)
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_listening_beyond_loopback_without_client_auth_warns(mock, workdir):
    from conftest import config

    path = workdir / "agw.yaml"
    path.write_text(config(mock.port))
    port = free_port()
    process = subprocess.Popen([binary("agw-proxy"), "--config", str(path), "--listen", f"0.0.0.0:{port}",
                                "--admin", f"127.0.0.1:{free_port()}"], stderr=subprocess.PIPE, text=True)
    try:
        seen = ""
        deadline = time.time() + 20
        while "agw-proxy serving" not in seen and time.time() < deadline:
            seen += process.stderr.readline()
        seen += process.stderr.readline()
        seen += "".join(process.stderr.readline() for _ in range(6))
        assert "without client authentication" in seen, seen
    finally:
        process.terminate()
        process.wait(timeout=15)
