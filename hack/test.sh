#!/usr/bin/env bash
# Runs every agw test on a fresh machine: installs what the tests need (a kube-apiserver, etcd
# and kubectl built from Go modules; the Claude Code CLI; the Anthropic Python SDK), builds the
# binaries and runs the whole cargo test suite, unit to end-to-end.
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

step "test clients: Claude Code CLI and the Anthropic Python SDK"
setup hack/install-test-clients.sh

step "building agw binaries"
cargo build --workspace --bins --locked
AGW_BIN_DIR=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug
export AGW_BIN_DIR

step "running cargo tests (units, goldens, drift checks)"
cargo test --workspace --locked "$@"

step "running end-to-end tests (real agw binaries, kube-apiserver, kubectl, Claude Code CLI, Anthropic SDK)"
"$AGW_PYTHON" -m pytest -q e2e/python

step "all tests passed"
