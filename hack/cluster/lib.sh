# shellcheck shell=bash
# Shared settings of hack/cluster/*.sh: one single-node Kubernetes cluster inside a network
# namespace, with all of its state under one directory. Sourced, never run.
#
# Environment (all optional):
#   AGW_CLUSTER_NETNS     network namespace, also the node name and cgroup root (default agwnode)
#   AGW_CLUSTER_DIR       state directory (default /tmp/agw-cluster-$AGW_CLUSTER_NETNS); down.sh removes it
#   AGW_CLUSTER_API_PORT  loopback port in the root namespace that forwards to the apiserver (default 16443)
#   AGW_CACHE             build cache root (default ~/.cache/agw)

CLUSTER_NS=${AGW_CLUSTER_NETNS:-agwnode}
CLUSTER_DIR=${AGW_CLUSTER_DIR:-/tmp/agw-cluster-$CLUSTER_NS}
CLUSTER_API_PORT=${AGW_CLUSTER_API_PORT:-16443}
CLUSTER_CGROUP=$CLUSTER_NS

# Addresses inside the namespace. None of them exists outside it: the namespace has no link to
# the root namespace and no default route, so nothing a pod does can leave the machine.
NODE_IP=10.255.0.1            # on the namespace's lo (the kubelet refuses 127/8)
POD_CIDR=10.244.0.0/24        # bridge agw-cni0, gateway 10.244.0.1
CLUSTER_CIDR=10.244.0.0/16
SERVICE_CIDR=10.96.0.0/16
KUBERNETES_SVC_IP=10.96.0.1
CLUSTER_DNS_IP=10.96.0.10
API_PORT_IN_NS=6443
PAUSE_IMAGE=agw.local/pause:1

R=$CLUSTER_DIR
HACK_CLUSTER=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HACK_CLUSTER/../.." && pwd)

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
in_ns() { nsenter --net="/run/netns/$CLUSTER_NS" "$@"; }
# Runs a command in the node's network and mount namespace (where kubelet and containerd see
# the same Secret mounts), found through containerd's pid.
in_node() { nsenter --target "$(cat "$R/pids/containerd.pid")" --net --mount "$@"; }
ctr_node() { in_node ctr --address "$R/containerd/containerd.sock" -n k8s.io "$@"; }
kubectl_root() { KUBECACHEDIR=$R/kubecache "$NODE_BIN/kubectl" --kubeconfig "$R/kubeconfig" "$@"; }

# Binaries: the control plane set and the node set, built from hack/envtest's go.mod.
find_bins() {
  local out
  out=$("$REPO/hack/envtest/build.sh") || die "hack/envtest/build.sh failed"
  ENVTEST_BIN=$(printf '%s\n' "$out" | sed -n 's/^AGW_ENVTEST_BIN=//p' | tail -n1)
  out=$("$REPO/hack/envtest/build.sh" --node) || die "hack/envtest/build.sh --node failed"
  NODE_BIN=$(printf '%s\n' "$out" | sed -n 's/^AGW_NODE_BIN=//p' | tail -n1)
}
