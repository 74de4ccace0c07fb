#!/usr/bin/env bash
# Stops the cluster of up.sh and removes every trace of it: processes (also pod processes and
# containerd shims), the network namespace (with its bridge, veths and iptables rules), the
# cgroup trees and the state directory. Works from the pid files, the recorded mount namespace
# and the cgroups alone, so it also reaps a cluster whose harness was killed. Idempotent.
set -uo pipefail
shopt -s globstar nullglob
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
started=$SECONDS

pid_of() { [[ -f $R/pids/$1.pid ]] && cat "$R/pids/$1.pid"; }
stop() { # names...: TERM by pid, KILL after 15 s, in parallel
  local name pid pids=()
  for name in "$@"; do
    pid=$(pid_of "$name") || continue
    kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
  done
  ((${#pids[@]})) || return 0
  for _ in $(seq 1 75); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || return 0
    sleep 0.2
  done
  kill -KILL "${pids[@]}" 2>/dev/null
  sleep 0.2
}
kill_all() { # pids...
  (($#)) || return 0
  kill -KILL "$@" 2>/dev/null
  sleep 0.3
}

if [[ -d $R ]]; then
  [[ -f $R/.agw-cluster ]] || die "$R is not a hack/cluster state directory; refusing to remove it"
  log "stopping the cluster in $R"
  stop kube-proxy kubelet kube-scheduler kube-controller-manager
  # Every pod's task and sandbox, so each shim exits with it.
  if pid=$(pid_of containerd) && kill -0 "$pid" 2>/dev/null; then
    for task in $(ctr_node tasks ls -q 2>/dev/null); do
      ctr_node tasks kill -s KILL "$task" >/dev/null 2>&1
    done
    sleep 0.5
    for task in $(ctr_node tasks ls -q 2>/dev/null); do
      ctr_node tasks delete -f "$task" >/dev/null 2>&1
    done
  fi
  stop containerd kube-apiserver api-forwarder
  for f in "$R"/pids/forward-*.pid; do [[ -f $f ]] && stop "$(basename "$f" .pid)"; done
  stop etcd
fi

# Whatever is left in the node's mount namespace (shims), in the network namespace, or in the
# node's cgroups.
if [[ -f $R/mntns ]]; then
  mntns=$(cat "$R/mntns")
  left=()
  for p in /proc/[0-9]*; do
    [[ $(readlink "$p/ns/mnt" 2>/dev/null) == "$mntns" ]] && left+=("${p#/proc/}")
  done
  kill_all "${left[@]}"
fi
if [[ -e /run/netns/$CLUSTER_NS ]]; then
  mapfile -t left < <(ip netns pids "$CLUSTER_NS" 2>/dev/null)
  kill_all "${left[@]}"
fi
mapfile -t left < <(cat /sys/fs/cgroup/pids/"$CLUSTER_CGROUP"/**/cgroup.procs \
  /sys/fs/cgroup/pids/"$CLUSTER_CGROUP"/cgroup.procs 2>/dev/null)
kill_all "${left[@]}"

if [[ -e /run/netns/$CLUSTER_NS ]]; then
  ip netns del "$CLUSTER_NS" || die "ip netns del $CLUSTER_NS failed; processes left: $(ip netns pids "$CLUSTER_NS" | tr '\n' ' ')"
fi
for h in /sys/fs/cgroup/*/"$CLUSTER_CGROUP"; do
  [[ -d $h ]] && find "$h" -depth -type d -exec rmdir {} \; 2>/dev/null
  [[ -d $h ]] && log "warning: cgroup $h is still in use"
done
if [[ -d $R ]]; then
  rm -rf "$R" || die "could not remove $R"
fi
# `ip netns add` made /run/netns (a bind mount of itself); leave the machine as it was when no
# other namespace is there.
if [[ -d /run/netns && -z $(ls -A /run/netns) ]]; then
  mountpoint -q /run/netns && umount /run/netns
  rmdir /run/netns
fi
log "cluster removed in $((SECONDS - started))s"
