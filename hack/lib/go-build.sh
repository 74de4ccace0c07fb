# shellcheck shell=bash
# What hack/envtest/build.sh, hack/helm/build.sh and hack/jaeger/build.sh share when they
# build a tool from Go modules: progress lines, the Go toolchain and the stamp hash. Sourced,
# never run.
#
#   log MSG... / die MSG...     # "==> MSG" on stderr / "error: MSG" on stderr and exit 1
#   now; since START            # seconds since the epoch; "XmYYs" elapsed since START
#   find_go MIN_VERSION         # sets GO (from $GO, PATH or /usr/local/go) and go_version
#   hash_files FILE...          # sha256sum-style lines (sha256sum, else shasum -a 256)

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
