#!/usr/bin/env bash
# Stop the control plane started by start.sh and remove its state dir.
#   --keep   stop the processes but keep the dir (logs) for inspection
set -euo pipefail

dir=${AGW_ENVTEST_DIR:-/tmp/agw-envtest}
keep=0
[[ ${1:-} == --keep ]] && keep=1

[[ -e $dir ]] || { echo "nothing to stop: $dir does not exist" >&2; exit 0; }
[[ -f $dir/.agw-envtest ]] || { echo "error: $dir is not an agw-envtest dir; not touching it" >&2; exit 1; }

stop() { # name: TERM, wait up to 10s, then KILL. Only kills the recorded pid,
  # and only if it still runs our binary (pids get reused).
  local name=$1 pidfile=$dir/$1.pid pid
  [[ -f $pidfile ]] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    if [[ -r /proc/$pid/cmdline ]] && ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "/$name "; then
      echo "pid $pid is no longer $name; not killing it" >&2
    else
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      if kill -0 "$pid" 2>/dev/null; then
        echo "$name (pid $pid) did not exit after 10s; sending KILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
      fi
      echo "==> stopped $name (pid $pid)" >&2
    fi
  fi
  rm -f "$pidfile"
}
stop kube-apiserver
stop etcd

if [[ $keep == 1 ]]; then
  echo "==> kept $dir" >&2
else
  rm -rf "$dir"
  echo "==> removed $dir" >&2
fi
