#!/usr/bin/env bash
# Packs agw's images from built binaries, without a registry or a container engine, and imports
# them into the running node's containerd (hack/cluster/up.sh). Each image follows its
# Dockerfile target (user 65532, entrypoint, exposed ports, binary path): pack_image.py reads
# them from the Dockerfile, so the two cannot drift. Digests are deterministic.
#
#   hack/cluster/images.sh                       # cargo build --release, then pack and import
#   AGW_IMAGE_BIN_DIR=target/debug hack/cluster/images.sh   # pack binaries already built
#
# stdout: AGW_IMAGE_PROXY=…, AGW_IMAGE_OPERATOR=…, AGW_IMAGE_WEBHOOK=… (agw.local/<name>:<digest>).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ -f $R/pids/containerd.pid ]] || die "no cluster in $R; run hack/cluster/up.sh first"
bin_dir=${AGW_IMAGE_BIN_DIR:-}
if [[ -z $bin_dir ]]; then
  log "building release binaries (cargo build --release)"
  (cd "$REPO" && cargo build --release --locked -p agw-proxy -p agw-operator -p agw-webhook >&2)
  bin_dir=$(cd "$REPO" && cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release
fi

for target in agw-proxy agw-operator agw-webhook; do
  ref=$(python3 "$HACK_CLUSTER/pack_image.py" dockerfile --dockerfile "$REPO/Dockerfile" \
    --target "$target" --bin-dir "$bin_dir" --strip --repo "agw.local/$target" --out "$R/images")
  ctr_node images import --snapshotter overlayfs "$R/images/$target.tar" >/dev/null
  log "imported $ref ($(du -h "$R/images/$target.tar" | cut -f1))"
  var=${target#agw-}
  printf 'AGW_IMAGE_%s=%s\n' "${var^^}" "$ref"
done
