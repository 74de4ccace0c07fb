# shellcheck shell=bash
# What hack/envtest/build.sh, hack/helm/build.sh and hack/jaeger/build.sh share when they
# build a tool from Go modules: progress lines, the Go toolchain and the stamp hash. Sourced,
# never run.
#
#   log MSG... / die MSG...     # "==> MSG" on stderr / "error: MSG" on stderr and exit 1
#   now; since START            # seconds since the epoch; "XmYYs" elapsed since START
#   find_go MIN_VERSION         # sets GO (from $GO, PATH or /usr/local/go) and go_version
#   hash_files FILE...          # sha256sum-style lines (sha256sum, else shasum -a 256)
#   serialise LOCKFILE          # waits (flock on fd 9, held until exit) while another build runs
#   download_modules PKG...     # `go list -deps` in the current module; dies naming the proxy

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
now() { date +%s; }
since() { local s=$(($(now) - $1)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

find_go() {
  GO=${GO:-}
  if [[ -z $GO ]]; then
    if command -v go >/dev/null 2>&1; then GO=go
    elif [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go
    else
      die "'go' not found on PATH (and not at /usr/local/go/bin/go).
Install Go >= $1 from https://go.dev/dl/ (or your package manager), or set GO=/path/to/go."
    fi
  fi
  go_version=$("$GO" env GOVERSION 2>/dev/null) || die "'$GO env GOVERSION' failed; is $GO a working Go toolchain?"
}

hash_files() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$@"
  else shasum -a 256 "$@"; fi
}

serialise() {
  command -v flock >/dev/null 2>&1 || return 0
  exec 9>"$1"
  if ! flock -n 9; then
    log "another build.sh is running; waiting for $1"
    flock 9
  fi
}

download_modules() {
  local t dl_err
  t=$(now)
  log "downloading modules (GOMODCACHE=$("$GO" env GOMODCACHE))"
  if ! dl_err=$("$GO" list -deps "$@" 2>&1 >/dev/null); then
    printf '%s\n' "$dl_err" >&2
    die "module download failed (GOPROXY=$("$GO" env GOPROXY)). Check network access to the Go module proxy;
if go.mod/go.sum were edited, run 'go mod tidy' in $PWD."
  fi
  log "modules ready ($(since "$t"))"
}
