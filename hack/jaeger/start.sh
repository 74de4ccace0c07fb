#!/usr/bin/env bash
# Start Jaeger (hack/jaeger/build.sh builds it) on 127.0.0.1 in the background, for looking
# at agw-proxy's traces by hand:
#
#   hack/jaeger/start.sh      # OTLP/HTTP on 127.0.0.1:4318, query API and UI on 127.0.0.1:16686
#   agw-proxy --config examples/claude-code.yaml --otlp-endpoint http://127.0.0.1:4318
#   curl -s '127.0.0.1:16686/api/traces?service=agw-proxy' | jq '.data[].spans[].operationName'
#   hack/jaeger/stop.sh
#
# The ports are the defaults of config.yaml; set AGW_JAEGER_OTLP_HTTP, AGW_JAEGER_QUERY_HTTP,
# ... (see config.yaml) to move them. State (log, pid) is in ${AGW_JAEGER_DIR:-/tmp/agw-jaeger}.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=${AGW_JAEGER_DIR:-/tmp/agw-jaeger}
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

if [[ -f $dir/jaeger.pid ]] && kill -0 "$(cat "$dir/jaeger.pid")" 2>/dev/null; then
  die "jaeger is already running (pid $(cat "$dir/jaeger.pid")); run hack/jaeger/stop.sh first"
fi
out=$("$here/build.sh") || die "build.sh failed"
jaeger=$(printf '%s\n' "$out" | sed -n 's/^AGW_JAEGER_BIN=//p' | tail -n1)
mkdir -p "$dir"
nohup "$jaeger" --config "$here/config.yaml" >"$dir/jaeger.log" 2>&1 &
echo $! >"$dir/jaeger.pid"
health=${AGW_JAEGER_HEALTH:-127.0.0.1:13133}
for _ in $(seq 100); do
  if curl -fs "http://$health/status" 2>/dev/null | grep -q '"healthy":true'; then
    printf '==> jaeger running (pid %s): OTLP/HTTP http://%s, UI and API http://%s\n' \
      "$(cat "$dir/jaeger.pid")" "${AGW_JAEGER_OTLP_HTTP:-127.0.0.1:4318}" \
      "${AGW_JAEGER_QUERY_HTTP:-127.0.0.1:16686}" >&2
    exit 0
  fi
  kill -0 "$(cat "$dir/jaeger.pid")" 2>/dev/null || die "jaeger exited; see $dir/jaeger.log"
  sleep 0.1
done
die "jaeger not healthy after 10s; see $dir/jaeger.log"
