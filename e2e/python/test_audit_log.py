"""Audit capture through the real clients: a Backend that opts in gets one audit line per
forwarded request — text as sent upstream (masked) and the streamed answer — and one that does
not gets none."""

import json
import time

import anthropic

from conftest import MASK_EMAIL, TUTORIAL_GUARD, config, run_claude

MODEL = "claude-sonnet-4-5-20250929"
KUBERNETES = "Kubernetes is an open-source system for automating deployment, scaling and management of containerized applications."


def audited(port: int, max_bytes: int = 65536) -> str:
    text = config(port, guards=TUTORIAL_GUARD + MASK_EMAIL, key="sk-ant-proxy-key")
    return text.replace("      promptGuard:\n", f"      audit: {{maxBytes: {max_bytes}}}\n      promptGuard:\n", 1)


def audit_lines(text: str) -> list[dict]:
    return [json.loads(l) for l in text.splitlines() if l.startswith("{") and '"agw.record":"audit"' in l]


def wait_for(read, count: int, timeout: float = 10) -> list[dict]:
    deadline = time.time() + timeout
    while len(read()) < count and time.time() < deadline:
        time.sleep(0.05)
    return read()


def test_claude_code_stream_is_audited_masked_and_assembled(mock, start_proxy, workdir):
    proxy = start_proxy(audited(mock.port))
    result = run_claude(proxy.url, "What is Kubernetes? mail me at a.b@example.com", workdir / "home")
    assert result.returncode == 0, result.stderr
    calls = mock.messages_requests()
    records = wait_for(lambda: audit_lines(proxy.logs()), len(calls))
    assert len(records) == len(calls), records
    access = {json.loads(l)["request_id"] for l in proxy.logs().splitlines() if l.startswith("{") and '"url.path"' in l}
    for record in records:
        assert record["request_id"] in access, "an audit record must match an access-log line"
        assert record["complete"] is True and record["agw.backend"] == "default/anthropic"
    texts = [t["text"] for t in records[-1]["request"]["texts"]]
    assert any("mail me at <EMAIL_ADDRESS>" in t for t in texts), texts
    assert records[-1]["response"] == {"text": KUBERNETES, "truncated": False}
    output = proxy.logs()
    for secret in ("a.b@example.com", "sk-ant-proxy-key", "sk-ant-client-dummy"):
        assert secret not in output, secret


def test_sdk_audit_goes_to_a_rotated_file_and_rejections_are_not_kept(mock, start_proxy, workdir):
    path = workdir / "audit.jsonl"
    proxy = start_proxy(audited(mock.port, max_bytes=1024), "--audit-log", str(path),
                        "--audit-log-max-bytes", "1500", "--audit-log-files", "1")
    client = anthropic.Anthropic(base_url=proxy.url, api_key="sk-ant-client-dummy", max_retries=0)
    long_prompt = "What is Kubernetes? " + "x" * 2000
    for _ in range(3):
        client.messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": long_prompt}])
    try:
        client.messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "a credit card"}])
    except anthropic.BadRequestError:
        pass
    rotated = workdir / "audit.jsonl.1"
    read = lambda: audit_lines((rotated.read_text() if rotated.exists() else "") + (path.read_text() if path.exists() else ""))
    records = wait_for(read, 2)
    # Each record is ~1.2 KB (text cut at 1024 bytes): the file rotates at every record and
    # one old file is kept, so the last two of the three are on disk.
    assert len(records) == 2, records
    assert not (workdir / "audit.jsonl.2").exists()
    for record in records:
        (text,) = record["request"]["texts"]
        assert record["request"]["truncated"] is True and len(text["text"].encode()) == 1024
        assert text["text"].startswith("What is Kubernetes? xxx"), "a rejected prompt was recorded"
        assert record["response"] == {"text": KUBERNETES, "truncated": False}
    assert audit_lines(proxy.logs()) == [], "audit records went to stdout"


def test_a_backend_without_audit_records_nothing(mock, start_proxy, workdir):
    proxy = start_proxy(config(mock.port))
    client = anthropic.Anthropic(base_url=proxy.url, api_key="sk-ant-client-dummy", max_retries=0)
    client.messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "What is Kubernetes?"}])
    wait_for(lambda: [l for l in proxy.logs().splitlines() if '"url.path"' in l], 1)
    assert audit_lines(proxy.logs()) == []
    assert "Kubernetes is an open-source" not in proxy.logs()
