"""The Backend API on a real kube-apiserver + etcd built from Go modules (hack/envtest),
driven with the real kubectl built alongside: the tutorial's manifests apply, printer columns
and `kubectl explain` work, and the CRD schema rejects what it should."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import ROOT

ENVTEST = ROOT / "hack" / "envtest"
SAMPLES = ROOT / "config" / "samples"
TUTORIAL_BACKENDS = ["backend-flexible.yaml", "backend-fixed-model.yaml", "backend-guarded.yaml", "backend-extended-guards.yaml"]


class ControlPlane:
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="agw-envtest-")) / "cp"
        env = dict(os.environ, AGW_ENVTEST_DIR=str(self.dir))
        started = subprocess.run([str(ENVTEST / "start.sh")], env=env, capture_output=True, text=True, timeout=180)
        if started.returncode != 0:
            pytest.fail(f"control plane did not start:\n{started.stderr}")
        exports = dict(re.findall(r"^export (\w+)=(.*)$", started.stdout, re.M))
        self.kubeconfig = exports["KUBECONFIG"].strip("'\"")
        self.bin = exports["AGW_ENVTEST_BIN"].strip("'\"")
        self.env = env

    def kubectl(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([f"{self.bin}/kubectl", "--kubeconfig", self.kubeconfig, *args], input=stdin, capture_output=True, text=True, timeout=60)

    def stop(self):
        subprocess.run([str(ENVTEST / "stop.sh")], env=self.env, capture_output=True, timeout=60)
        shutil.rmtree(self.dir.parent, ignore_errors=True)


@pytest.fixture(scope="module")
def cp():
    plane = ControlPlane()
    yield plane
    plane.stop()


def namespace(cp: ControlPlane, name: str) -> str:
    assert cp.kubectl("create", "namespace", name).returncode == 0
    return name


def test_tutorial_backends_apply_and_list_with_printer_columns(cp):
    ns = namespace(cp, "tutorial")
    assert cp.kubectl("apply", "-n", ns, "-f", str(SAMPLES / "secret.yaml")).returncode == 0
    for i, sample in enumerate(TUTORIAL_BACKENDS):
        text = (SAMPLES / sample).read_text().replace("name: anthropic\n", f"name: anthropic-{i}\n", 1)
        applied = cp.kubectl("apply", "-n", ns, "-f", "-", stdin=text)
        assert applied.returncode == 0, f"{sample}: {applied.stderr}"
    listed = cp.kubectl("get", "backends", "-n", ns)
    assert listed.returncode == 0, listed.stderr
    header = listed.stdout.splitlines()[0].split()
    assert header == ["NAME", "ACCEPTED", "READY", "MODEL", "GUARDS", "AGE"]
    assert "claude-sonnet-4-5-20250929" in listed.stdout
    assert cp.kubectl("get", "agbe", "-n", ns).returncode == 0


def test_explain_documents_the_policies(cp):
    explained = cp.kubectl("explain", "backend.spec.policies")
    assert explained.returncode == 0, explained.stderr
    assert "promptGuard" in cp.kubectl("explain", "backend.spec.policies.ai").stdout


def test_schema_rejects_an_unknown_action_with_the_field(cp):
    ns = namespace(cp, "schema")
    text = (SAMPLES / "backend-guarded.yaml").read_text().replace("action: Reject", "action: Block")
    applied = cp.kubectl("apply", "-n", ns, "-f", "-", stdin=text)
    assert applied.returncode == 1
    assert "spec.policies.ai.promptGuard.request[0].regex.action" in applied.stderr
    assert 'Unsupported value: "Block"' in applied.stderr


def test_start_and_stop_three_times_without_leaking_processes():
    for _ in range(3):
        plane = ControlPlane()
        pids = [int(p.read_text()) for p in plane.dir.glob("*.pid")]
        assert pids, "start.sh records the pids it starts"
        assert plane.kubectl("get", "ns").returncode == 0
        plane.stop()
        for pid in pids:
            assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower(), f"pid {pid} still runs"
