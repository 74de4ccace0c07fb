#!/usr/bin/env bash
# Build the real Helm CLI from Go modules (see go.mod here) into
#   ${AGW_CACHE:-$HOME/.cache/agw}/helm/<helm version>/bin/helm
# for the chart tests (e2e/tests/helm.rs) and hack/kind-up.sh.
# Cold: 13 min wall, 4 min CPU, on 2 cores shared with other builds (mostly compiling
# client-go and the Kubernetes API types); a re-run with the stamp in place: instant.
#
# A module of its own, not hack/envtest's: Helm follows newer Kubernetes client
# libraries than the control plane we pin, and the two must not move each other.
#
# Progress goes to stderr. stdout gets exactly one line, the last one:
#   AGW_HELM=<path to helm>
# so callers can `eval "$(hack/helm/build.sh)"` or parse the last line.
#
# Re-runs are cheap: a stamp file keyed by go.mod, go.sum, this script and the
# main package skips the build while the binary is present. GOMODCACHE and
# GOCACHE keep their Go defaults (under $HOME); cache those plus the bin dir in CI.
#
# Environment:
#   AGW_CACHE   cache root (default $HOME/.cache/agw)
#   GO          go binary to use (default: `go` on PATH, else /usr/local/go/bin/go)
#   AGW_HELM_FORCE=1   rebuild even if the stamp matches
set -euo pipefail

HELM_VERSION=v4.3.2 # keep equal to the helm.sh/helm/v4 requirement in go.mod

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${AGW_CACHE:-$HOME/.cache/agw}
root=$cache/helm/$HELM_VERSION
bin=$root/bin
helm=$bin/helm

# shellcheck source=../lib/go-build.sh
source "$here/../lib/go-build.sh"

# --- go -----------------------------------------------------------------------
find_go 1.26

grep -q "helm.sh/helm/v4 $HELM_VERSION\$" "$here/go.mod" ||
  die "HELM_VERSION=$HELM_VERSION in build.sh does not match the helm.sh/helm/v4 requirement in $here/go.mod"

# --- stamp --------------------------------------------------------------------
stamp_key=$(cd "$here" && hash_files go.mod go.sum build.sh cmd/helm/main.go | hash_files - | cut -c1-64)
stamp=$bin/.stamp

up_to_date() {
  [[ ${AGW_HELM_FORCE:-0} != 1 ]] && [[ -f $stamp ]] && [[ $(cat "$stamp") == "$stamp_key" ]] && [[ -x $helm ]]
}

if up_to_date; then
  log "helm $HELM_VERSION up to date in $bin"
  echo "AGW_HELM=$helm"
  exit 0
fi

mkdir -p "$bin"
# Serialise concurrent callers (e.g. hack/test.sh and a developer's shell).
serialise "$root/.build.lock"
if up_to_date; then
  log "helm $HELM_VERSION up to date in $bin (built by another process)"
  echo "AGW_HELM=$helm"
  exit 0
fi

t_all=$(now)
log "building helm $HELM_VERSION with $go_version into $bin"
cd "$here"
export CGO_ENABLED=0 # as upstream's Makefile: a static binary
# Building from the wrapper module only; go.sum is committed, never rewritten.
export GOFLAGS="${GOFLAGS:-} -mod=readonly -buildvcs=false"

# --- modules ------------------------------------------------------------------
download_modules ./cmd/helm

# --- build --------------------------------------------------------------------
# The version stamp upstream's Makefile sets for a tagged release; without it
# `helm version` reports a bare "v4.3" and charts' kubeVersion checks see less.
ldflags="-s -w"
ldflags+=" -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION"
ldflags+=" -X helm.sh/helm/v4/internal/version.metadata="
ldflags+=" -X helm.sh/helm/v4/internal/version.gitTreeState=clean"

t=$(now)
log "building helm (first build takes several minutes: client-go and the Kubernetes API types)"
tmp=$bin/.helm.tmp.$$
rm -f "$stamp"
if ! "$GO" build -trimpath -ldflags "$ldflags" -o "$tmp" ./cmd/helm; then
  rm -f "$tmp"
  die "go build ./cmd/helm failed (see above)"
fi
mv -f "$tmp" "$helm"
log "built helm: $(du -h "$helm" | cut -f1) in $(since "$t")"
"$helm" version --short >&2 || die "the built $helm does not run"

echo "$stamp_key" >"$stamp"
log "done in $(since "$t_all")"
echo "AGW_HELM=$helm"
