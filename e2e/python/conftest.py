"""Fixtures for black-box proxy tests: the mock upstream, the real agw-proxy binary, and the
real clients (Claude Code CLI, Anthropic Python SDK) installed by hack/install-test-clients.sh."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from mock_anthropic import Mock

ROOT = Path(__file__).resolve().parents[2]


def binary(name: str) -> str:
    bin_dir = os.environ.get("AGW_BIN_DIR") or str(ROOT / "target" / "debug")
    path = Path(bin_dir) / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `cargo build --workspace --bins` (hack/test.sh does)")
    return str(path)


def claude_bin() -> str:
    path = os.environ.get("AGW_CLAUDE_BIN")
    if not path or not Path(path).exists():
        pytest.fail("the Claude Code CLI is not installed: run hack/install-test-clients.sh and export AGW_CLAUDE_BIN")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


GUARDED = """\
apiVersion: v1
kind: Secret
metadata: {{name: anthropic-secret}}
stringData:
  Authorization: {key}
---
apiVersion: agentgateway.dev/v1alpha1
kind: Backend
metadata: {{name: anthropic}}
spec:
  ai:
    provider:
      anthropic: {anthropic}
      host: 127.0.0.1
      port: {port}
  policies:
    ai:
      routes:
        '/v1/messages': Messages
        '*': Passthrough
      promptGuard:
        request:
{guards}
    auth:
      secretRef: {{name: anthropic-secret}}
"""

TUTORIAL_GUARD = """\
        - response:
            message: "Rejected due to inappropriate content"
          regex:
            action: Reject
            matches: ["credit card"]
"""

MASK_EMAIL = """\
        - regex:
            action: Mask
            builtins: [Email]
"""


def config(port: int, guards: str = TUTORIAL_GUARD, key: str = "sk-ant-proxy-key", model: str | None = None) -> str:
    anthropic = "{model: %s}" % model if model else "{}"
    return GUARDED.format(port=port, guards=guards, key=key, anthropic=anthropic)


class Proxy:
    """The real agw-proxy on free loopback ports; stopped (SIGTERM) at the end."""

    # free_port() closes the port it found before the proxy binds it, so another process on
    # this shared machine can take it in between; only that start is tried again.
    PORT_TAKEN = "Address already in use"
    START_ATTEMPTS = 3

    def __init__(self, workdir: Path, text: str, *extra: str, env: dict | None = None):
        self.config = workdir / "agw.yaml"
        self.config.write_text(text)
        for attempt in range(self.START_ATTEMPTS):
            self.port, self.admin_port = free_port(), free_port()
            self.log = open(workdir / "proxy.log", "wb")
            args = [binary("agw-proxy"), "--config", str(self.config), "--listen", f"127.0.0.1:{self.port}",
                    "--admin", f"127.0.0.1:{self.admin_port}", "--reload-interval", "200ms", *extra]
            self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                            env={**os.environ, **(env or {})})
            try:
                self.wait_ready()
                return
            except AssertionError:
                last = attempt + 1 == self.START_ATTEMPTS
                if last or self.process.poll() is None or self.PORT_TAKEN not in self.logs():
                    raise
                self.log.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def admin(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def wait_ready(self, timeout: float = 20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"agw-proxy exited with {self.process.returncode}: {self.logs()}")
            try:
                if self.admin("/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"agw-proxy not ready in {timeout}s: {self.logs()}")

    def logs(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@pytest.fixture
def workdir():
    path = Path(tempfile.mkdtemp(prefix="agw-e2e-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def mock():
    with Mock() as m:
        yield m


@pytest.fixture
def start_proxy(workdir):
    started = []

    def start(text: str, *extra: str, env: dict | None = None) -> Proxy:
        proxy = Proxy(workdir, text, *extra, env=env)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


def run_claude(base_url: str, prompt: str, home: Path, timeout: float = 120,
               extra_env: dict | None = None) -> subprocess.CompletedProcess:
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": "sk-ant-client-dummy",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CI": "1",
        **(extra_env or {}),
    }
    return subprocess.run([claude_bin(), "-p", prompt], env=env, capture_output=True, text=True, timeout=timeout)
