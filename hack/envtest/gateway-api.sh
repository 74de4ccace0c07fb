#!/usr/bin/env bash
# Fetch the Gateway API standard-channel CRDs from the sigs.k8s.io/gateway-api
# Go module (through the Go module proxy, checksum-verified) and copy them to
#   ${AGW_CACHE:-$HOME/.cache/agw}/envtest/gateway-api-<version>/
# Progress goes to stderr; the last stdout line is AGW_GATEWAY_API_CRDS=<dir>.
set -euo pipefail

GATEWAY_API_VERSION=v1.4.1 # pairs with k8s.io/* v0.34 (its go.mod requires v0.34.1)

cache=${AGW_CACHE:-$HOME/.cache/agw}
out=$cache/envtest/gateway-api-$GATEWAY_API_VERSION

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

if [[ -f $out/.complete ]]; then
  log "Gateway API $GATEWAY_API_VERSION CRDs already in $out"
  echo "AGW_GATEWAY_API_CRDS=$out"
  exit 0
fi

GO=${GO:-}
if [[ -z $GO ]]; then
  if command -v go >/dev/null 2>&1; then GO=go
  elif [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go
  else die "'go' not found on PATH (and not at /usr/local/go/bin/go); install Go or set GO=/path/to/go"; fi
fi

log "downloading sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION"
# Run outside any module so no go.mod/go.sum is touched.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! json=$(cd "$tmp" && GOFLAGS=-mod=mod "$GO" mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION"); then
  printf '%s\n' "${json:-}" >&2
  die "module download failed (GOPROXY=$("$GO" env GOPROXY))"
fi
src=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir":[[:space:]]*"\(.*\)",\{0,1\}$/\1/p')
[[ -n $src && -d $src/config/crd/standard ]] || die "unexpected 'go mod download' output: $json"

mkdir -p "$out"
n=0
for f in "$src"/config/crd/standard/*.yaml; do
  # Files in the module cache are read-only; write fresh copies we own.
  cat "$f" >"$out/.tmp.$$" && mv -f "$out/.tmp.$$" "$out/${f##*/}"
  n=$((n + 1))
done
[[ $n -gt 0 ]] || die "no CRDs in $src/config/crd/standard"
touch "$out/.complete"
log "copied $n CRDs to $out"
echo "AGW_GATEWAY_API_CRDS=$out"
