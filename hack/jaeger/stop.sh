#!/usr/bin/env bash
# Stop the Jaeger that hack/jaeger/start.sh started (its pid file), and remove its state dir.
set -euo pipefail
dir=${AGW_JAEGER_DIR:-/tmp/agw-jaeger}
if [[ -f $dir/jaeger.pid ]]; then
  pid=$(cat "$dir/jaeger.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
fi
rm -rf "$dir"
