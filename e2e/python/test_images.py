"""The offline images (hack/cluster/pack_image.py, what the real-node tests run) keep the
Dockerfile's runtime contract: for each target the same non-root user (so `runAsNonRoot` holds
for the image itself), entrypoint, exposed ports and binary path, every shared library the
binary needs, and a deterministic digest. The Dockerfile is read here with its own small
parser, so a packer that misreads it fails this test."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from conftest import ROOT, binary

PACKER = ROOT / "hack" / "cluster" / "pack_image.py"
TARGETS = ["agw-proxy", "agw-operator", "agw-webhook"]


def dockerfile_stage(target: str) -> dict:
    """USER of the shared runtime stage, and EXPOSE/ENTRYPOINT/COPY of `target`'s stage."""
    text = (ROOT / "Dockerfile").read_text()
    user = re.search(r"^FROM \S+ AS runtime-base$.*?^USER (\S+)$", text, re.M | re.S).group(1)
    stage = re.search(rf"^FROM runtime-base AS {target}$(.*?)(?=^FROM |\Z)", text, re.M | re.S).group(1)
    return {
        "user": user,
        "exposed": sorted(f"{p}/tcp" for p in re.search(r"^EXPOSE (.+)$", stage, re.M).group(1).split()),
        "entrypoint": json.loads(re.search(r"^ENTRYPOINT (.+)$", stage, re.M).group(1)),
        "binary": re.search(r"^COPY --from=build \S+ (\S+)$", stage, re.M).group(1),
    }


def pack(target: str, out: Path) -> tuple[str, dict, tarfile.TarFile]:
    bin_dir = str(Path(binary(target)).parent)
    ref = subprocess.run(
        [sys.executable, str(PACKER), "dockerfile", "--target", target, "--bin-dir", bin_dir,
         "--repo", f"agw.local/{target}", "--out", str(out)],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    outer = tarfile.open(out / f"{target}.tar")
    manifest = json.load(outer.extractfile("manifest.json"))[0]
    config = json.load(outer.extractfile(manifest["Config"]))
    layer = tarfile.open(fileobj=outer.extractfile(manifest["Layers"][0]))
    assert manifest["RepoTags"] == [ref]
    return ref, config, layer


@pytest.mark.parametrize("target", TARGETS)
def test_offline_image_keeps_the_dockerfiles_runtime_contract(target, tmp_path):
    want = dockerfile_stage(target)
    ref, config, layer = pack(target, tmp_path / "a")
    runtime = config["config"]
    assert runtime["User"] == want["user"] == "65532:65532"
    assert runtime["Entrypoint"] == want["entrypoint"] == [want["binary"]]
    assert sorted(runtime["ExposedPorts"]) == want["exposed"]
    names = set(layer.getnames())
    assert want["binary"].lstrip("/") in names
    member = layer.getmember(want["binary"].lstrip("/"))
    assert member.mode & 0o111 and member.size == Path(binary(target)).stat().st_size
    # Every library the dynamic loader would look for is in the image.
    ldd = subprocess.run(["ldd", binary(target)], capture_output=True, text=True, check=True).stdout
    for lib in re.findall(r"(/\S+) \(0x", ldd):
        assert lib.lstrip("/") in names, f"{lib} missing from {target}'s image"
    passwd = layer.extractfile("etc/passwd").read().decode()
    assert "nonroot:x:65532:65532:" in passwd
    # No shell, and the same bytes give the same image.
    assert "bin/sh" not in names
    again, _, _ = pack(target, tmp_path / "b")
    assert again == ref and (tmp_path / "a" / f"{target}.tar").read_bytes() == (tmp_path / "b" / f"{target}.tar").read_bytes()
