#!/usr/bin/env bash
# The node itself, started by up.sh inside the cluster's network namespace and a private mount
# namespace (`nsenter --net … unshare --mount --propagation slave`): it makes the mounts the
# components' hard-coded paths need, starts etcd, containerd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet and kube-proxy as detached children, and exits.
# The mounts live as long as those processes: nothing here is visible from the root namespace.
#
#   node.sh ENVTEST_BIN NODE_BIN
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ENVTEST_BIN=$1
NODE_BIN=$2
pki=$R/pki

spawn() { # name args...: detached, log to $R/logs/<name>.log, pid to $R/pids/<name>.pid
  local name=$1; shift
  setsid "$@" </dev/null >"$R/logs/$name.log" 2>&1 &
  echo $! >"$R/pids/$name.pid"
}
alive() { kill -0 "$(cat "$R/pids/$1.pid")" 2>/dev/null; }
wait_for() { # name seconds what command...: poll until the command succeeds
  local name=$1 secs=$2 what=$3; shift 3
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    alive "$name" || { tail -n 30 "$R/logs/$name.log" >&2; die "$name exited before $what"; }
    ((SECONDS < deadline)) || { tail -n 30 "$R/logs/$name.log" >&2; die "$what: not after ${secs}s"; }
    sleep 0.2
  done
}

# --- mounts for hard-coded paths -------------------------------------------------------------
# A private /run: containerd 1.6 puts shim sockets in /run/containerd/s, and nothing the node
# writes under /run reaches the machine's.
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/containerd
mount --bind "$R/varlog" /var/log                          # /var/log/containers symlinks
mkdir -p "$R/ovl/upper" "$R/ovl/work"
# /var/lib/kubelet/device-plugins/kubelet.sock and /var/lib/cni/results are hard-coded.
mount -t overlay overlay -o "lowerdir=/var/lib,upperdir=$R/ovl/upper,workdir=$R/ovl/work" /var/lib
# The kubelet would write these machine-wide (setupKernelTunables); it finds its values in
# these files instead and writes nothing.
mkdir -p "$R/sysctl"
for kv in vm/overcommit_memory=1 vm/panic_on_oom=0 kernel/panic=10 kernel/panic_on_oops=1 \
  kernel/keys/root_maxkeys=1000000 kernel/keys/root_maxbytes=25000000; do
  key=${kv%=*}
  printf '%s\n' "${kv#*=}" >"$R/sysctl/${key//\//.}"
  mount --bind "$R/sysctl/${key//\//.}" "/proc/sys/$key"
done

# --- etcd, containerd, apiserver --------------------------------------------------------------
spawn etcd "$ENVTEST_BIN/etcd" --name="$CLUSTER_NS" --data-dir="$R/etcd" \
  --listen-client-urls=http://127.0.0.1:2379 --advertise-client-urls=http://127.0.0.1:2379 \
  --listen-peer-urls=http://127.0.0.1:2380 --initial-advertise-peer-urls=http://127.0.0.1:2380 \
  --initial-cluster="$CLUSTER_NS=http://127.0.0.1:2380" --unsafe-no-fsync=true
spawn containerd containerd --config "$R/containerd.toml"
wait_for etcd 30 "etcd healthy" curl -fsS http://127.0.0.1:2379/health

spawn kube-apiserver "$ENVTEST_BIN/kube-apiserver" \
  --advertise-address="$NODE_IP" --bind-address=0.0.0.0 --secure-port="$API_PORT_IN_NS" \
  --cert-dir="$pki" --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
  --client-ca-file="$pki/ca.crt" --etcd-servers=http://127.0.0.1:2379 \
  --service-cluster-ip-range="$SERVICE_CIDR" --allow-privileged=true \
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
  --kubelet-client-certificate="$pki/apiserver-kubelet-client.crt" \
  --kubelet-client-key="$pki/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="$pki/ca.crt" --kubelet-preferred-address-types=InternalIP

wait_for containerd 30 "containerd socket" test -S "$R/containerd/containerd.sock"
ctr --address "$R/containerd/containerd.sock" -n k8s.io images import --snapshotter overlayfs \
  "$R/images/pause.tar" >/dev/null
readyz() {
  curl -fsS --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
    "https://127.0.0.1:$API_PORT_IN_NS/readyz"
}
wait_for kube-apiserver 90 "kube-apiserver ready" readyz

# --- controllers, scheduler, node agent, service proxy ----------------------------------------
spawn kube-controller-manager "$NODE_BIN/kube-controller-manager" \
  --kubeconfig="$R/kube-controller-manager.kubeconfig" \
  --authentication-kubeconfig="$R/kube-controller-manager.kubeconfig" \
  --authorization-kubeconfig="$R/kube-controller-manager.kubeconfig" \
  --use-service-account-credentials=true --service-account-private-key-file="$pki/sa.key" \
  --root-ca-file="$pki/ca.crt" --cluster-signing-cert-file="$pki/ca.crt" \
  --cluster-signing-key-file="$pki/ca.key" --allocate-node-cidrs=true \
  --cluster-cidr="$CLUSTER_CIDR" --node-cidr-mask-size=24 --service-cluster-ip-range="$SERVICE_CIDR" \
  --leader-elect=false --bind-address=127.0.0.1 --cert-dir="$R/kcm" \
  --flex-volume-plugin-dir="$R/kcm/flex"
spawn kube-scheduler "$NODE_BIN/kube-scheduler" \
  --kubeconfig="$R/kube-scheduler.kubeconfig" \
  --authentication-kubeconfig="$R/kube-scheduler.kubeconfig" \
  --authorization-kubeconfig="$R/kube-scheduler.kubeconfig" \
  --leader-elect=false --bind-address=127.0.0.1 --cert-dir="$R/sched"
spawn kubelet "$NODE_BIN/kubelet" --config="$R/kubelet.yaml" --kubeconfig="$R/kubelet.kubeconfig" \
  --root-dir="$R/kubelet" --hostname-override="$CLUSTER_NS" --node-ip="$NODE_IP"
spawn kube-proxy "$NODE_BIN/kube-proxy" --config="$R/kube-proxy.yaml"
