# shellcheck shell=bash
# Configuration files of the node's components (sourced by up.sh). Every path a component
# would otherwise write outside $R is set here (see shared notes: real-node.md §3–§6).
write_configs() {
  mkdir -p "$R/cni/net.d" "$R/cni/ipam" "$R/containerd" "$R/kubelet/volume-plugins" \
    "$R/varlog/pods" "$R/kcm/flex" "$R/sched" "$R/kubecache"

  cat >"$R/containerd.toml" <<TOML
version = 2
root = "$R/containerd/root"
state = "$R/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$R/containerd/containerd.sock"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$R/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  netns_mounts_under_state_dir = true
  # No CAP_SYS_RESOURCE here: a sandbox's oom_score_adj of -998 would make runc fail.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "/usr/sbin/runc"
        Root = "$R/containerd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$R/cni/net.d"
TOML

  # The node goes Ready only once containerd reports NetworkReady: the conflist exists first.
  cat >"$R/cni/net.d/10-agwnode.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "$CLUSTER_NS",
  "plugins": [
    {"type": "bridge", "bridge": "agw-cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "$R/cni/ipam",
              "ranges": [[{"subnet": "$POD_CIDR", "gateway": "10.244.0.1"}]],
              "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON

  cat >"$R/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://$R/containerd/containerd.sock
cgroupDriver: cgroupfs
cgroupRoot: /$CLUSTER_CGROUP
cgroupsPerQOS: true
failCgroupV1: false
failSwapOn: false
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $R/pki/kubelet-serving.crt
tlsPrivateKeyFile: $R/pki/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $R/pki/ca.crt}
authorization: {mode: AlwaysAllow}
resolvConf: ""
clusterDomain: cluster.local
clusterDNS: [$CLUSTER_DNS_IP]
podLogsDir: $R/varlog/pods
volumePluginDir: $R/kubelet/volume-plugins
# The agw images are imported by hand: never garbage-collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
# Absolute disk thresholds: the node shares this machine's disk with builds, and a test pod
# evicted because a build filled 99% of it would fail a test for nothing agw did.
evictionHard: {memory.available: 100Mi, nodefs.available: 256Mi, imagefs.available: 256Mi, nodefs.inodesFree: 1%}
# Secret volumes refresh quickly, so a policy edit reaches running proxies within seconds.
syncFrequency: 10s
YAML

  cat >"$R/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clusterCIDR: $CLUSTER_CIDR
hostnameOverride: $CLUSTER_NS
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
clientConnection: {kubeconfig: $R/kube-proxy.kubeconfig}
# 0 leaves the conntrack sysctls alone (nf_conntrack_max is read-only in a child namespace).
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
YAML
}
