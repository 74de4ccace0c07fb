"""agwctl as a user runs it: exit codes, output format, and the tutorial's prompts."""

import subprocess
from pathlib import Path

from conftest import ROOT, binary

SAMPLES = ROOT / "config" / "samples"
CORPUS = ROOT / "policy" / "tests" / "corpus"


def agwctl(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([binary("agwctl"), *args], input=stdin, capture_output=True, text=True, timeout=30)


# Samples that show a feature with a limit the compiler must point out: file -> the one warning.
# A response webhook guard checks whole JSON replies only, and Claude Code always streams.
EXPECTED_WARNINGS = {
    "backend-webhook-guards.yaml": "warning: spec.policies.ai.promptGuard.streaming: response guards do not apply to streamed responses",
}


def test_lint_of_the_tutorial_manifests_is_silent():
    files = sorted(str(p) for p in SAMPLES.glob("backend-*.yaml")) + [
        str(SAMPLES / "secret.yaml"),
        str(SAMPLES / "gateway" / "policy-developers.yaml"),
        str(ROOT / "examples" / "claude-code.yaml"),
    ]
    result = agwctl("lint", *files)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for name, warning in EXPECTED_WARNINGS.items():
        expected = [line for line in lines if line.startswith(f"{SAMPLES / name}: {warning}")]
        assert len(expected) == 1, result.stdout
        lines.remove(expected[0])
    assert lines == [], result.stdout


def test_lint_reports_every_error_with_file_and_path_and_exits_1():
    path = CORPUS / "bad-patterns.yaml"
    result = agwctl("lint", str(path))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert f"{path}: spec.policies.ai.promptGuard.request[0].regex.matches[0]: lookahead at character 1 is not supported" in result.stdout
    assert any(line.startswith(f"{path}: warning: ") for line in lines)
    assert sum("regex.matches[" in line for line in lines) >= 10


def test_unparsable_input_exits_2_with_line_and_column(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: agentgateway.dev/v1alpha1\nkind: Backend\nspec: [unclosed\n")
    result = agwctl("lint", str(bad))
    assert result.returncode == 2
    assert "line" in result.stderr and "column" in result.stderr
    binary_file = tmp_path / "blob.yaml"
    binary_file.write_bytes(b"\x00\xff\xfe\x01")
    assert agwctl("lint", str(binary_file)).returncode == 2


def test_check_rejects_the_tutorial_prompt_with_exit_3():
    result = agwctl("check", str(SAMPLES / "backend-guarded.yaml"), "--prompt", "What is a credit card")
    assert result.returncode == 3
    assert "request[0]" in result.stdout and "Rejected due to inappropriate content" in result.stdout
    allowed = agwctl("check", str(SAMPLES / "backend-guarded.yaml"), "--prompt", "What is Kubernetes?")
    assert allowed.returncode == 0


def test_check_shows_the_masked_prompt_from_stdin():
    result = agwctl("check", str(ROOT / "examples" / "claude-code.yaml"), stdin="mail me at jane@example.com")
    assert result.returncode == 0
    assert "mail me at <EMAIL_ADDRESS>" in result.stdout


def test_compile_writes_the_bundle(tmp_path: Path):
    out = tmp_path / "bundle.json"
    result = agwctl("compile", str(SAMPLES / "backend-guarded.yaml"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert '"apiVersion": "bundle.agentgateway.dev/v1"' in out.read_text()


def test_lint_of_files_without_a_backend_says_so_and_exits_4():
    result = agwctl("lint", str(SAMPLES / "secret.yaml"))
    assert result.returncode == 4, result.stdout + result.stderr
    assert "no Backend, AgentgatewayBackend or AgentgatewayPolicy" in result.stderr and "nothing was checked" in result.stderr


def test_lint_judges_an_agentgateway_policy_as_the_webhook_does(tmp_path: Path):
    bad = tmp_path / "policy.yaml"
    bad.write_text(
        "apiVersion: agentgateway.dev/v1alpha1\nkind: AgentgatewayPolicy\nmetadata: {name: p}\nspec:\n"
        "  targetRefs: [{group: gateway.networking.k8s.io, kind: Service, name: claude}]\n"
        "  traffic: {timeouts: {request: 10s}, authorization: {rules: [{groups: [dev]}]}}\n"
    )
    result = agwctl("lint", str(bad))
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{bad}: spec.targetRefs[0].kind: agw attaches policies to Gateways" in result.stdout
    assert f"{bad}: spec.traffic.timeouts: not supported by agw: `timeouts`" in result.stdout
    assert f"{bad}: spec.traffic.authorization: authorization needs identities" in result.stdout


def test_lint_refuses_unsupported_and_unknown_fields_at_their_paths():
    path = CORPUS / "unsupported-fields.yaml"
    result = agwctl("lint", str(path))
    assert result.returncode == 1
    assert f"{path}: spec.policies.ai.transformations: not supported by agw: `transformations`" in result.stdout
    assert f"{path}: spec.policies.ai.promptGuard.request[0].openAIModeration: not supported by agw" in result.stdout
    assert f"{path}: spec.policies.ai.promptGuards: unknown field \"promptGuards\"" in result.stdout


def test_check_reads_the_prompt_enrichment_as_the_proxy_does(tmp_path: Path):
    """The proxy's guards read the enriched prompt (agentgateway's order), so agwctl check does;
    an enrichment a Reject guard matches is refused by the compiler outright."""
    backend = tmp_path / "enriched.yaml"
    template = """\
apiVersion: agentgateway.dev/v1alpha1
kind: AgentgatewayBackend
metadata: {name: enriched}
spec:
  ai: {provider: {anthropic: {}}}
  policies:
    ai:
      prompt:
        prepend: [{role: system, content: "Escalate to ops@example.com."}]
      promptGuard:
        request:
        - regex: {action: ACTION, builtins: [Email]}
"""
    backend.write_text(template.replace("ACTION", "Mask"))
    result = agwctl("check", str(backend), "--prompt", "What is Kubernetes?")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "masked by request[0]" in result.stdout, result.stdout
    backend.write_text(template.replace("ACTION", "Reject"))
    result = agwctl("lint", str(backend))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "spec.policies.ai.prompt.prepend[0].content: guard request[0] rejects this text" in result.stdout
