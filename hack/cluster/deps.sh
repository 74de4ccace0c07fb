#!/usr/bin/env bash
# Installs what a one-node cluster needs from Debian packages, when missing: containerd, runc,
# the CNI plugins, iptables (kube-proxy and portmap run it inside the cluster's namespace),
# socat (the loopback forwarder to the apiserver), gcc + libc6-dev (the static pause image),
# openssl, iproute2 and util-linux (nsenter, unshare). Needs root, as the cluster itself does.
set -euo pipefail
log() { printf '==> %s\n' "$*" >&2; }

[[ $(id -u) == 0 ]] || { echo "error: hack/cluster needs root (network namespaces, cgroups, mounts)" >&2; exit 1; }

# command-or-file → package
declare -A want=(
  [containerd]=containerd [ctr]=containerd [runc]=runc [/usr/lib/cni/bridge]=containernetworking-plugins
  [iptables]=iptables [socat]=socat [gcc]=gcc [/usr/lib/x86_64-linux-gnu/libc.a]=libc6-dev
  [openssl]=openssl [ip]=iproute2 [nsenter]=util-linux [unshare]=util-linux [setsid]=util-linux
)
missing=()
for what in "${!want[@]}"; do
  if [[ $what == /* ]]; then [[ -e $what ]] && continue
  else command -v "$what" >/dev/null 2>&1 && continue
  fi
  pkg=${want[$what]}
  [[ " ${missing[*]} " == *" $pkg "* ]] || missing+=("$pkg")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
log "node packages: containerd $(containerd --version | awk '{print $3}'), runc $(runc --version | sed -n 's/^runc version //p'), iptables $(iptables --version | awk '{print $2}')"
