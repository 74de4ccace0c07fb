#!/usr/bin/env bash
# Starts a real one-node Kubernetes cluster on this machine, without Docker, a registry or any
# traffic leaving the machine: kube-apiserver, etcd, kube-controller-manager, kube-scheduler,
# kubelet and kube-proxy (built from Go modules by hack/envtest/build.sh), containerd, runc and
# the CNI plugins (Debian packages), all inside the network namespace $AGW_CLUSTER_NETNS.
#
#   eval "$(hack/cluster/up.sh)"      # about 15 s with built binaries; needs root
#   kubectl get nodes                 # the root namespace reaches the apiserver at 127.0.0.1:16443
#   hack/cluster/install-agw.sh       # agw's images and config/default
#   hack/cluster/down.sh              # leaves nothing behind
#
# stdout gets only `export` lines: KUBECONFIG (root namespace), AGW_CLUSTER_NETNS (run a server
# the pods can reach with `nsenter --net=/run/netns/$AGW_CLUSTER_NETNS`), AGW_NODE_IP (the
# address pods reach that server at), AGW_CLUSTER_DIR and AGW_NODE_BIN (kubectl and friends).
# Progress and errors go to stderr; on failure the logs stay in $AGW_CLUSTER_DIR/logs.
# Settings: see lib.sh. Facts behind each step: the shared notes, real-node.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$HACK_CLUSTER/pki.sh"
source "$HACK_CLUSTER/configs.sh"
started=$SECONDS

"$HACK_CLUSTER/deps.sh"
find_bins

# A cluster whose harness was killed is reaped first; a live one is never touched.
if [[ -e /run/netns/$CLUSTER_NS || -e $R ]]; then
  if [[ -f $R/pids/kube-apiserver.pid ]] && kill -0 "$(cat "$R/pids/kube-apiserver.pid")" 2>/dev/null; then
    die "a cluster is already running in $R (netns $CLUSTER_NS); run hack/cluster/down.sh first"
  fi
  log "reaping what a previous cluster left in $R"
  "$HACK_CLUSTER/down.sh"
fi
if (exec 3<>"/dev/tcp/127.0.0.1/$CLUSTER_API_PORT") 2>/dev/null; then
  die "127.0.0.1:$CLUSTER_API_PORT is in use; set AGW_CLUSTER_API_PORT to a free port"
fi

mkdir -p "$R/logs" "$R/pids" "$R/images"
touch "$R/.agw-cluster"
chmod 700 "$R"
fail() {
  printf 'error: %s\n' "$*" >&2
  printf 'logs: %s/logs; run hack/cluster/down.sh to remove the cluster\n' "$R" >&2
  exit 1
}
trap 'fail "up.sh failed at line $LINENO"' ERR

log "certificates and configuration in $R"
make_pki
api_in_ns=https://127.0.0.1:$API_PORT_IN_NS
kubeconfig admin-ns.kubeconfig "$api_in_ns" admin
kubeconfig kubelet.kubeconfig "$api_in_ns" kubelet
kubeconfig kube-controller-manager.kubeconfig "$api_in_ns" kube-controller-manager
kubeconfig kube-scheduler.kubeconfig "$api_in_ns" kube-scheduler
kubeconfig kube-proxy.kubeconfig "$api_in_ns" kube-proxy
kubeconfig kubeconfig "https://127.0.0.1:$CLUSTER_API_PORT" admin
write_configs

log "pause image (static, built here)"
gcc -Os -static -o "$R/images/pause" "$HACK_CLUSTER/pause.c"
strip "$R/images/pause"
python3 "$HACK_CLUSTER/pack_image.py" static --file "/pause=$R/images/pause" --entrypoint /pause \
  --repo "${PAUSE_IMAGE%:*}" --tag "${PAUSE_IMAGE##*:}" --out "$R/images" >/dev/null

log "network namespace $CLUSTER_NS (node $NODE_IP, pods $POD_CIDR, services $SERVICE_CIDR)"
ip netns add "$CLUSTER_NS"
ip -n "$CLUSTER_NS" link set lo up
ip -n "$CLUSTER_NS" addr add "$NODE_IP/32" dev lo
# With no default route, connect() to a ClusterIP fails its route lookup before kube-proxy's
# OUTPUT DNAT runs; this route lets the apiserver (and anything in the namespace) reach Services.
ip -n "$CLUSTER_NS" route add "$SERVICE_CIDR" dev lo src "$NODE_IP"
in_ns sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1

log "cgroup root /$CLUSTER_CGROUP in every hierarchy"
for h in /sys/fs/cgroup/*/; do
  [[ -d $h ]] || continue
  mkdir -p "$h$CLUSTER_CGROUP"
  if [[ -f ${h}cpuset.cpus ]]; then
    cat "${h}cpuset.cpus" >"$h$CLUSTER_CGROUP/cpuset.cpus"
    cat "${h}cpuset.mems" >"$h$CLUSTER_CGROUP/cpuset.mems"
  fi
done

log "starting etcd, containerd, kube-apiserver, controllers, scheduler, kubelet, kube-proxy"
in_ns unshare --mount --propagation slave -- "$HACK_CLUSTER/node.sh" "$ENVTEST_BIN" "$NODE_BIN"
readlink "/proc/$(cat "$R/pids/containerd.pid")/ns/mnt" >"$R/mntns"

# The root namespace reaches the apiserver through a loopback forwarder that enters the
# cluster's namespace once per connection; no interface or address is added to the machine.
setsid socat "TCP-LISTEN:$CLUSTER_API_PORT,bind=127.0.0.1,reuseaddr,fork" \
  "EXEC:nsenter --net=/run/netns/$CLUSTER_NS socat STDIO TCP\\:127.0.0.1\\:$API_PORT_IN_NS" \
  </dev/null >"$R/logs/api-forwarder.log" 2>&1 &
echo $! >"$R/pids/api-forwarder.pid"

kc() { KUBECACHEDIR=$R/kubecache "$ENVTEST_BIN/kubectl" --kubeconfig "$R/kubeconfig" "$@"; }
wait_until() { # seconds what command...
  local secs=$1 what=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "$what: not after ${secs}s"
    sleep 0.3
  done
}
wait_until 30 "the apiserver through 127.0.0.1:$CLUSTER_API_PORT" kc get --raw /readyz
log "waiting for node $CLUSTER_NS to be Ready and untainted"
wait_until 120 "node $CLUSTER_NS registered" kc get node "$CLUSTER_NS"
wait_until 120 "node $CLUSTER_NS Ready" kc wait --for=condition=Ready "node/$CLUSTER_NS" --timeout=5s
untainted() { [[ -z $(kc get node "$CLUSTER_NS" -o 'jsonpath={.spec.taints}') ]]; }
wait_until 60 "node $CLUSTER_NS without taints" untainted
wait_until 60 "the default ServiceAccount" kc get serviceaccount default -n default
trap - ERR
log "cluster up in $((SECONDS - started))s; kubectl: $ENVTEST_BIN/kubectl"

printf 'export AGW_CLUSTER_DIR=%q\n' "$R"
printf 'export AGW_CLUSTER_NETNS=%q\n' "$CLUSTER_NS"
printf 'export AGW_NODE_IP=%q\n' "$NODE_IP"
printf 'export AGW_NODE_BIN=%q\n' "$ENVTEST_BIN"
printf 'export KUBECACHEDIR=%q\n' "$R/kubecache"
printf 'export KUBECONFIG=%q\n' "$R/kubeconfig"
