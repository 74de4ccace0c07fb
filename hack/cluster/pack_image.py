#!/usr/bin/env python3
"""Packs a container image without a registry or a container engine, as a docker-archive
that `ctr images import` accepts (hack/cluster/images.sh imports it into the node).

The runtime contract comes from the Dockerfile itself, so the offline images and the images
users build with `docker build --target X` cannot drift: for a target stage it reads (through
the stages it is built FROM) USER, EXPOSE, ENTRYPOINT, LABEL and the `COPY --from=build` of the
binary, and puts that binary at the same path, with the shared libraries it links against
(the distroless "cc" base is glibc + libgcc, nothing else), an /etc/passwd naming the nonroot
user and an empty /tmp. Everything is deterministic: the same binary gives the same digest.

  pack_image.py dockerfile --target agw-proxy --bin-dir target/release --repo agw.local/agw-proxy --out DIR
  pack_image.py static --file /pause=/path/to/pause --entrypoint /pause --repo agw.local/pause --tag 1 --out DIR

Prints the image reference (REPO:TAG) on stdout; the archive is DIR/<name>.tar.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import shlex
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

NONROOT = 65532
PASSWD = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
GROUP = "root:x:0:\nnonroot:x:65532:\n"


@dataclass
class Stage:
    """What a runtime stage of the Dockerfile says about its image."""

    base: str
    user: str | None = None
    exposed: list[str] = field(default_factory=list)
    entrypoint: list[str] | None = None
    labels: dict[str, str] = field(default_factory=dict)
    copies: list[tuple[str, str]] = field(default_factory=list)  # (source in build stage, dest)


def logical_lines(text: str):
    """Dockerfile lines with `\\` continuations joined and comments dropped."""
    pending = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield (pending + line).strip()
        pending = ""


def parse_stages(text: str) -> dict[str, Stage]:
    stages: dict[str, Stage] = {}
    args: dict[str, str] = {}
    current: Stage | None = None
    for line in logical_lines(text):
        word, _, rest = line.partition(" ")
        word = word.upper()
        rest = rest.strip()
        if word == "ARG":
            key, _, value = rest.partition("=")
            args[key] = value
        elif word == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else parts[0]
            base = parts[0]
            inherited = stages.get(base)
            current = Stage(base=base)
            if inherited is not None:
                current.user = inherited.user
                current.exposed = list(inherited.exposed)
                current.entrypoint = inherited.entrypoint
                current.labels = dict(inherited.labels)
                current.copies = list(inherited.copies)
            stages[name] = current
        elif current is None:
            continue
        elif word == "USER":
            current.user = rest
        elif word == "EXPOSE":
            current.exposed += [p if "/" in p else f"{p}/tcp" for p in rest.split()]
        elif word == "ENTRYPOINT":
            current.entrypoint = json.loads(rest)
        elif word == "LABEL":
            for item in shlex.split(rest):
                key, _, value = item.partition("=")
                current.labels[key] = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), value)
        elif word == "COPY":
            parts = [p for p in rest.split() if not p.startswith("--")]
            if "--from=build" in rest and len(parts) == 2:
                current.copies.append((parts[0], parts[1]))
    return stages


def shared_libraries(binary: Path) -> list[Path]:
    """The dynamic loader and libraries `binary` needs, as absolute paths on this machine."""
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True)
    if out.returncode != 0:
        if "not a dynamic executable" in out.stdout + out.stderr:
            return []
        sys.exit(f"error: ldd {binary} failed: {out.stderr.strip()}")
    libs = []
    for line in out.stdout.splitlines():
        match = re.search(r"(/\S+) \(0x", line)
        if match:
            libs.append(Path(match.group(1)))
        elif "not found" in line:
            sys.exit(f"error: {binary} needs a library this machine lacks: {line.strip()}")
    return libs


class Layer:
    """A deterministic tar of a root filesystem: sorted, mtime 0, numeric owners."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[tarfile.TarInfo, bytes | None]] = {}

    def add_dir(self, path: str, mode: int = 0o755, owner: int = 0) -> None:
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            name = "/".join(parts[:i])
            if name not in self.entries:
                self.entries[name] = (self._info(name, tarfile.DIRTYPE, mode, owner), None)

    def add_file(self, path: str, data: bytes, mode: int, owner: int = 0) -> None:
        name = path.strip("/")
        if "/" in name:
            self.add_dir(name.rsplit("/", 1)[0])
        info = self._info(name, tarfile.REGTYPE, mode, owner)
        info.size = len(data)
        self.entries[name] = (info, data)

    @staticmethod
    def _info(name: str, kind: bytes, mode: int, owner: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.uid, info.gid, info.mtime = kind, mode, owner, owner, 0
        return info

    def tar(self) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for name in sorted(self.entries):
                info, data = self.entries[name]
                tar.addfile(info, io.BytesIO(data) if data is not None else None)
        return buf.getvalue()


def add_host_file(layer: Layer, path: Path) -> None:
    """Copies a file of this machine into the layer at the path the loader asks for, as a
    regular file: a symlink on this machine may point through directory symlinks
    (merged /usr) that the image does not have."""
    layer.add_file(str(path), path.read_bytes(), 0o755)


def archive(repo: str, tag: str | None, layer: bytes, config: dict, out_dir: Path, name: str) -> str:
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config["rootfs"] = {"type": "layers", "diff_ids": [diff_id]}
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    config_digest = hashlib.sha256(config_bytes).hexdigest()
    ref = f"{repo}:{tag or config_digest[:12]}"
    manifest = [{"Config": f"{config_digest}.json", "RepoTags": [ref], "Layers": [f"{diff_id[7:]}/layer.tar"]}]
    outer = Layer()
    outer.add_file("manifest.json", json.dumps(manifest, sort_keys=True).encode(), 0o644)
    outer.add_file(f"{config_digest}.json", config_bytes, 0o644)
    outer.add_file(f"{diff_id[7:]}/layer.tar", layer, 0o644)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{name}.tar"
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(outer.tar())
    tmp.replace(target)
    return ref


def image_config(entrypoint: list[str], user: str | None, exposed: list[str], labels: dict[str, str]) -> dict:
    config: dict = {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "Entrypoint": entrypoint, "WorkingDir": "/"}
    if user:
        config["User"] = user
    if exposed:
        config["ExposedPorts"] = {p: {} for p in exposed}
    if labels:
        config["Labels"] = labels
    return {"architecture": "amd64", "os": "linux", "config": config}


def stripped(binary: Path) -> bytes:
    """The binary without debug information (a debug build is mostly that)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / binary.name
        result = subprocess.run(["strip", "-o", str(out), str(binary)], capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"error: strip {binary} failed: {result.stderr.strip()}")
        return out.read_bytes()


def from_dockerfile(args: argparse.Namespace) -> str:
    stages = parse_stages(Path(args.dockerfile).read_text())
    stage = stages.get(args.target)
    if stage is None:
        sys.exit(f"error: {args.dockerfile} has no stage {args.target!r} (stages: {', '.join(stages)})")
    if not stage.entrypoint or not stage.copies:
        sys.exit(f"error: stage {args.target!r} has no ENTRYPOINT or no COPY --from=build of its binary")
    layer = Layer()
    for source, dest in stage.copies:
        binary = Path(args.bin_dir) / Path(source).name
        if not binary.is_file():
            sys.exit(f"error: {binary} not found (build it first: cargo build --release -p {binary.name})")
        layer.add_file(dest, stripped(binary) if args.strip else binary.read_bytes(), 0o755)
        for lib in shared_libraries(binary):
            add_host_file(layer, lib)
    layer.add_file("/etc/passwd", PASSWD.encode(), 0o644)
    layer.add_file("/etc/group", GROUP.encode(), 0o644)
    layer.add_dir("/home/nonroot", 0o700, NONROOT)
    layer.add_dir("/tmp", 0o1777)
    config = image_config(stage.entrypoint, stage.user, stage.exposed, stage.labels)
    return archive(args.repo, args.tag, layer.tar(), config, Path(args.out), args.target)


def static_image(args: argparse.Namespace) -> str:
    layer = Layer()
    for spec in args.file:
        dest, _, source = spec.partition("=")
        layer.add_file(dest, Path(source).read_bytes(), 0o755)
    config = image_config([args.entrypoint], None, [], {})
    return archive(args.repo, args.tag, layer.tar(), config, Path(args.out), Path(args.repo).name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="kind", required=True)
    d = sub.add_parser("dockerfile", help="an image of one Dockerfile target, from a built binary")
    d.add_argument("--dockerfile", default=str(Path(__file__).resolve().parents[2] / "Dockerfile"))
    d.add_argument("--target", required=True)
    d.add_argument("--bin-dir", required=True)
    d.add_argument("--strip", action="store_true", help="strip debug information from the binary")
    s = sub.add_parser("static", help="an image of static files, e.g. the pause binary")
    s.add_argument("--file", action="append", required=True, metavar="DEST=SOURCE")
    s.add_argument("--entrypoint", required=True)
    for p in (d, s):
        p.add_argument("--repo", required=True, help="image name without tag, e.g. agw.local/agw-proxy")
        p.add_argument("--tag", help="default: the first 12 hex digits of the config digest")
        p.add_argument("--out", required=True, help="directory for <name>.tar")
    args = parser.parse_args()
    print(from_dockerfile(args) if args.kind == "dockerfile" else static_image(args))


if __name__ == "__main__":
    main()
