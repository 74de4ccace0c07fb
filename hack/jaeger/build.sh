#!/usr/bin/env bash
# Build Jaeger v2 (an OpenTelemetry Collector distribution that receives OTLP and
# answers trace queries over HTTP) from Go modules (see go.mod here) into
#   ${AGW_CACHE:-$HOME/.cache/agw}/jaeger/<version>/bin/jaeger
#
# agw's trace tests run it with config.yaml (beside this script): in-memory
# storage, OTLP receivers and the query API, all on 127.0.0.1.
#
# Progress goes to stderr. stdout gets exactly one line, the last one:
#   AGW_JAEGER_BIN=<path to the jaeger binary>
# so callers can `eval "$(hack/jaeger/build.sh)"` or parse the last line.
#
# Re-runs are cheap: a stamp file keyed by go.mod, go.sum and this script skips
# the build while the binary is present. GOMODCACHE and GOCACHE keep their Go
# defaults (under $HOME); cache those plus the bin dir in CI.
#
# Environment:
#   AGW_CACHE   cache root (default $HOME/.cache/agw)
#   GO          go binary to use (default: `go` on PATH, else /usr/local/go/bin/go)
#   AGW_JAEGER_FORCE=1   rebuild even if the stamp matches
set -euo pipefail

JAEGER_VERSION=v1.75.0 # the module version; the binary reports itself as Jaeger v2
PKG=github.com/jaegertracing/jaeger/cmd/jaeger

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${AGW_CACHE:-$HOME/.cache/agw}
root=$cache/jaeger/$JAEGER_VERSION
bin=$root/bin
out=$bin/jaeger

# shellcheck source=../lib/go-build.sh
source "$here/../lib/go-build.sh"

# --- go -----------------------------------------------------------------------
find_go 1.24.6

# --- stamp --------------------------------------------------------------------
stamp_key=$(cd "$here" && hash_files go.mod go.sum build.sh | hash_files - | cut -c1-64)
stamp=$bin/.stamp

up_to_date() {
  [[ ${AGW_JAEGER_FORCE:-0} != 1 ]] && [[ -f $stamp ]] && [[ $(cat "$stamp") == "$stamp_key" ]] && [[ -x $out ]]
}

if up_to_date; then
  log "jaeger $JAEGER_VERSION up to date in $bin"
  echo "AGW_JAEGER_BIN=$out"
  exit 0
fi

mkdir -p "$bin"
# Serialise concurrent callers (e.g. hack/test.sh and a test started by hand).
serialise "$root/.build.lock"
if up_to_date; then
  log "jaeger $JAEGER_VERSION up to date in $bin (built by another process)"
  echo "AGW_JAEGER_BIN=$out"
  exit 0
fi

t_all=$(now)
log "building jaeger $JAEGER_VERSION with $go_version into $bin"
cd "$here"
export CGO_ENABLED=0
# Building from the wrapper module only; go.sum is committed, never rewritten.
export GOFLAGS="${GOFLAGS:-} -mod=readonly -buildvcs=false"

# --- modules ------------------------------------------------------------------
download_modules "$PKG"

# --- build --------------------------------------------------------------------
rm -f "$stamp"
t=$(now)
log "building jaeger (first build takes several minutes: it links an OpenTelemetry Collector)"
tmp=$bin/.jaeger.tmp.$$
ldflags="-s -w -X github.com/jaegertracing/jaeger/internal/version.latestVersion=$JAEGER_VERSION"
if ! "$GO" build -trimpath -ldflags "$ldflags" -o "$tmp" "$PKG"; then
  rm -f "$tmp"
  die "go build $PKG failed (see above)"
fi
mv -f "$tmp" "$out"
log "built jaeger: $(du -h "$out" | cut -f1) in $(since "$t")"

echo "$stamp_key" >"$stamp"
log "done in $(since "$t_all")"
echo "AGW_JAEGER_BIN=$out"
