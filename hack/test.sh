#!/usr/bin/env bash
# Runs every agw test on a fresh machine: installs what the tests need (a kube-apiserver, etcd
# and kubectl built from Go modules; the Claude Code CLI; the Anthropic Python SDK), builds the
# binaries and runs the whole cargo test suite, unit to end-to-end; then starts a real one-node
# Kubernetes cluster (kubelet, containerd, kube-proxy: hack/cluster), installs agw into it from
# images of the binaries just built, runs the tutorial and the node tests on it, and checks
# that tearing it down left the machine as it was.
#
# The node needs root (network namespaces, cgroups, mounts). AGW_SKIP_NODE=1 skips that part
# explicitly, e.g. on a laptop without root; CI runs as root and never skips it.
#
# The trace tests export to a real Jaeger built from Go modules (hack/jaeger/build.sh; cold
# about 6 min on 2 cores). AGW_SKIP_JAEGER=1 skips building it and those tests, saying so.
#
# Everything it installs is cached under $AGW_CACHE (default ~/.cache/agw), so a second run only
# rebuilds what changed. Extra arguments go to `cargo test` (e.g. `hack/test.sh -p agw-policy`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export AGW_CACHE=${AGW_CACHE:-$HOME/.cache/agw}
started=$SECONDS
step() { printf '\n==> %s (%ds)\n' "$*" $((SECONDS - started)); }

# Runs a setup script and exports the AGW_*=VALUE lines it prints on stdout. A failing script
# stops the run here (its progress and errors are on stderr).
setup() {
  local out line
  out=$("$@")
  while IFS= read -r line; do
    case "$line" in AGW_*=*) export "${line?}" ;; esac
  done <<<"$out"
}

step "checking formatting"
cargo fmt --all -- --check

step "control plane: kube-apiserver, etcd and kubectl from Go modules"
setup hack/envtest/build.sh
setup hack/envtest/gateway-api.sh

step "helm from Go modules (the chart tests, e2e/tests/helm.rs)"
setup hack/helm/build.sh

node=1
if [[ ${AGW_SKIP_NODE:-0} == 1 ]]; then
  node=0
  step "SKIPPING the real-node tests (AGW_SKIP_NODE=1)"
elif [[ $(id -u) != 0 ]]; then
  echo "error: the real-node tests need root (network namespaces, cgroups, mounts); run as root, or set AGW_SKIP_NODE=1 to skip them" >&2
  exit 1
else
  step "node: kubelet, kube-controller-manager, kube-scheduler, kube-proxy from Go modules; containerd, runc, CNI from Debian"
  setup hack/envtest/build.sh --node
  hack/cluster/deps.sh
fi

if [[ ${AGW_SKIP_JAEGER:-0} == 1 ]]; then
  step "SKIPPING the Jaeger build and the trace tests (AGW_SKIP_JAEGER=1)"
  export AGW_SKIP_JAEGER
else
  step "trace backend: Jaeger from Go modules"
  setup hack/jaeger/build.sh
fi

step "test clients: Claude Code CLI and the Anthropic Python SDK"
setup hack/install-test-clients.sh

step "redis-server from Debian (the shared rate-limit budget tests)"
setup hack/redis/install.sh

step "building agw binaries"
cargo build --workspace --bins --locked
AGW_BIN_DIR=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug
export AGW_BIN_DIR

step "clippy: every crate and target, warnings are errors"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo deny: licences, bans, sources, advisories (the vendored RustSec snapshot)"
hack/deny/check.sh

step "running cargo tests (units, goldens, drift checks)"
cargo test --workspace --locked "$@"

step "running end-to-end tests (real agw binaries, kube-apiserver, kubectl, Claude Code CLI, Anthropic SDK, Jaeger)"
"$AGW_PYTHON" -m pytest -q e2e/python

if ((node)); then
  step "real node: hack/cluster/up.sh, install-agw.sh, the tutorial and node tests"
  hack/cluster/footprint.sh >"$AGW_CACHE/footprint.before"
  cluster_down() {
    hack/cluster/down.sh
    hack/cluster/footprint.sh >"$AGW_CACHE/footprint.after"
  }
  trap cluster_down EXIT
  eval "$(hack/cluster/up.sh)"
  AGW_IMAGE_BIN_DIR=$AGW_BIN_DIR hack/cluster/install-agw.sh >/dev/null
  cargo test -p agw-e2e --test cluster --locked -- --ignored --test-threads=1
  trap - EXIT
  step "real node: tearing down, then comparing the machine with how it was"
  cluster_down
  if ! diff -u "$AGW_CACHE/footprint.before" "$AGW_CACHE/footprint.after"; then
    echo "error: the cluster left something behind (diff above)" >&2
    exit 1
  fi
fi

step "all tests passed"
