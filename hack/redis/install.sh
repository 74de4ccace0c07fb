#!/usr/bin/env bash
# Installs Debian's redis-server when it is missing, for the tests of the shared rate-limit
# store (agw-proxy --rate-limit-redis): each test starts its own redis-server on a free
# loopback port without persistence and stops it at the end; nothing uses a system Redis.
# Idempotent and quiet; prints AGW_REDIS_SERVER=<path> on stdout (hack/test.sh exports it).
set -euo pipefail
log() { printf '==> %s\n' "$*" >&2; }

if ! command -v redis-server >/dev/null 2>&1; then
  if [[ $(id -u) != 0 ]]; then
    echo "error: redis-server is missing and installing it needs root: apt-get install -y redis-server" >&2
    exit 1
  fi
  log "installing redis-server (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends redis-server >&2
fi
server=$(command -v redis-server)
log "redis-server $("$server" --version | sed -n 's/.* v=\([^ ]*\).*/\1/p') at $server"
echo "AGW_REDIS_SERVER=$server"
