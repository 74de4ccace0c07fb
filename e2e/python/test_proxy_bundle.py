"""Bundle mode, as in a pod: a bundle compiled by agwctl, the key in a mounted file, both
reloaded when Kubernetes swaps the files; a corrupt bundle changes nothing."""

import os
import subprocess
import time
import urllib.request
from pathlib import Path

from conftest import ROOT, binary, free_port


def post(url: str, prompt: str):
    body = ('{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"%s"}]}' % prompt).encode()
    request = urllib.request.Request(url + "/v1/messages", data=body, method="POST", headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def kubelet_write(directory: Path, name: str, content: str, generation: int):
    """Writes a file the way kubelet updates a Secret volume: new ..data dir, symlink swap."""
    data = directory / f"..{generation}"
    data.mkdir(parents=True)
    (data / name).write_text(content)
    tmp = directory / "..data_tmp"
    tmp.symlink_to(data.name)
    os.replace(tmp, directory / "..data")
    link = directory / name
    if not link.is_symlink():
        link.symlink_to(f"..data/{name}")


def compile_bundle(manifest: str, out: Path, auth_root: Path):
    src = out.with_suffix(".yaml")
    src.write_text(manifest)
    result = subprocess.run([binary("agwctl"), "compile", str(src), "--namespace", "team", "--auth-mount-root", str(auth_root), "-o", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_bundle_and_key_reload_like_mounted_secrets(mock, workdir):
    auth_root = workdir / "auth"
    key_dir = auth_root / "team" / "anthropic-secret"
    kubelet_write(key_dir, "Authorization", "sk-ant-first\n", 1)
    bundle_dir = workdir / "bundle"
    bundle_dir.mkdir()
    guarded = (ROOT / "config" / "samples" / "backend-guarded.yaml").read_text().replace(
        "      anthropic: {}\n", f"      anthropic: {{}}\n      host: 127.0.0.1\n      port: {mock.port}\n")
    compile_bundle(guarded, workdir / "b1.json", auth_root)
    kubelet_write(bundle_dir, "bundle.json", (workdir / "b1.json").read_text(), 1)
    port, admin = free_port(), free_port()
    proxy = subprocess.Popen([binary("agw-proxy"), "--bundle", str(bundle_dir / "bundle.json"), "--listen", f"127.0.0.1:{port}",
                              "--admin", f"127.0.0.1:{admin}", "--reload-interval", "200ms"], stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{admin}/readyz", timeout=1).status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        assert post(url, "What is Kubernetes?") == 200
        assert mock.messages_requests()[-1].headers["x-api-key"] == "sk-ant-first"
        assert post(url, "my credit card") == 400

        kubelet_write(key_dir, "Authorization", "Bearer sk-ant-rotated", 2)
        time.sleep(1.0)
        assert post(url, "What is Kubernetes?") == 200
        assert mock.messages_requests()[-1].headers["x-api-key"] == "sk-ant-rotated"

        unguarded = guarded.replace('- "credit card"', '- "forbidden phrase"')
        compile_bundle(unguarded, workdir / "b2.json", auth_root)
        kubelet_write(bundle_dir, "bundle.json", (workdir / "b2.json").read_text(), 2)
        time.sleep(1.0)
        assert post(url, "my credit card") == 200, "the new bundle was not picked up"

        corrupt = (workdir / "b1.json").read_text().replace('"credit card"', '"debit card"')  # digest no longer matches
        kubelet_write(bundle_dir, "bundle.json", corrupt, 3)
        time.sleep(1.0)
        assert post(url, "my credit card") == 200 and post(url, "my forbidden phrase") == 400, "a corrupt bundle must change nothing"
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=5).read().decode()
        assert 'agw_bundle_reloads_total{result="error"}' in metrics
    finally:
        proxy.terminate()
        proxy.wait(timeout=15)
