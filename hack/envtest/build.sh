#!/usr/bin/env bash
# Build Kubernetes binaries from Go modules (see go.mod here) into
#   ${AGW_CACHE:-$HOME/.cache/agw}/envtest/<k8s version>/bin/
#
#   build.sh          the control plane: kube-apiserver, kubectl, etcd
#   build.sh --node   the node components of hack/cluster: kubelet, kube-controller-manager,
#                     kube-scheduler, kube-proxy (cold: about 20 min on 2 cores; kubelet is most)
#
# Both sets come from the one go.mod, so a node always runs the control plane's exact versions.
#
# Progress goes to stderr. stdout gets exactly one line, the last one:
#   AGW_ENVTEST_BIN=<dir>   (AGW_NODE_BIN=<dir> with --node; the same directory)
# so callers can `eval "$(hack/envtest/build.sh)"` or parse the last line.
#
# Re-runs are cheap: a stamp file keyed by go.mod, go.sum, this script and the
# main packages skips the build while every binary is present. GOMODCACHE and
# GOCACHE keep their Go defaults (under $HOME); cache those plus the bin dir in CI.
#
# Environment:
#   AGW_CACHE   cache root (default $HOME/.cache/agw)
#   GO          go binary to use (default: `go` on PATH, else /usr/local/go/bin/go)
#   AGW_ENVTEST_FORCE=1   rebuild even if the stamp matches
set -euo pipefail

K8S_VERSION=v1.34.10
K8S_MAJOR=1
K8S_MINOR=34
BINARIES=(kube-apiserver kubectl etcd) # apiserver first: it is the long pole
SET=control-plane
OUT_VAR=AGW_ENVTEST_BIN
case ${1:-} in
  "") ;;
  --node)
    BINARIES=(kubelet kube-controller-manager kube-scheduler kube-proxy) # kubelet is the long pole
    SET=node
    OUT_VAR=AGW_NODE_BIN
    ;;
  *) printf 'usage: %s [--node]\n' "$0" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${AGW_CACHE:-$HOME/.cache/agw}
root=$cache/envtest/$K8S_VERSION
bin=$root/bin

# shellcheck source=../lib/go-build.sh
source "$here/../lib/go-build.sh"

# --- go -----------------------------------------------------------------------
find_go 1.24

# --- stamp --------------------------------------------------------------------
stamp_key=$(cd "$here" && hash_files go.mod go.sum build.sh $(printf "cmd/%s/main.go " "${BINARIES[@]}") | hash_files - | cut -c1-64)
stamp=$bin/.stamp-$SET

all_present() {
  local b
  for b in "${BINARIES[@]}"; do [[ -x $bin/$b ]] || return 1; done
}
up_to_date() {
  [[ ${AGW_ENVTEST_FORCE:-0} != 1 ]] && [[ -f $stamp ]] && [[ $(cat "$stamp") == "$stamp_key" ]] && all_present
}

if up_to_date; then
  log "$SET $K8S_VERSION binaries up to date in $bin"
  echo "$OUT_VAR=$bin"
  exit 0
fi

mkdir -p "$bin"
# Serialise concurrent callers (e.g. several test binaries starting at once).
serialise "$root/.build-$SET.lock"
if up_to_date; then
  log "$SET $K8S_VERSION binaries up to date in $bin (built by another process)"
  echo "$OUT_VAR=$bin"
  exit 0
fi

t_all=$(now)
log "building $SET $K8S_VERSION (${BINARIES[*]}) with $go_version into $bin"
cd "$here"
export CGO_ENABLED=0
# Building from the wrapper module only; go.sum is committed, never rewritten.
export GOFLAGS="${GOFLAGS:-} -mod=readonly -buildvcs=false"

# --- modules ------------------------------------------------------------------
download_modules $(printf "./cmd/%s " "${BINARIES[@]}")

# --- build --------------------------------------------------------------------
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$K8S_MAJOR -X $pkg.gitMinor=$K8S_MINOR"
  ldflags+=" -X $pkg.gitTreeState=clean"
done

rm -f "$stamp"
for b in "${BINARIES[@]}"; do
  t=$(now)
  case $b in
    kube-apiserver) log "building kube-apiserver (first build takes several minutes)" ;;
    kubelet) log "building kubelet (first build takes 10-15 minutes on 2 cores)" ;;
    *) log "building $b" ;;
  esac
  tmp=$bin/.$b.tmp.$$
  if ! "$GO" build -trimpath -ldflags "$ldflags" -o "$tmp" "./cmd/$b"; then
    rm -f "$tmp"
    die "go build ./cmd/$b failed (see above)"
  fi
  mv -f "$tmp" "$bin/$b"
  log "built $b: $(du -h "$bin/$b" | cut -f1) in $(since "$t")"
done

echo "$stamp_key" >"$stamp"
log "done in $(since "$t_all")"
echo "$OUT_VAR=$bin"
