#!/usr/bin/env bash
# Start a throwaway Kubernetes control plane (etcd + kube-apiserver, no
# kubelet, no controller-manager, no scheduler) on 127.0.0.1 for humans.
#
#   eval "$(hack/envtest/start.sh)"    # exports KUBECONFIG and AGW_ENVTEST_BIN
#   kubectl get ns                      # use $AGW_ENVTEST_BIN/kubectl off-dev-box
#   hack/envtest/stop.sh
#
# Progress goes to stderr; stdout gets only `export ...` lines, KUBECONFIG last.
#
# Environment:
#   AGW_ENVTEST_DIR   state dir (default /tmp/agw-envtest): pki/, etcd data,
#                     logs, pids, kubeconfig. stop.sh removes it.
#   AGW_ENVTEST_BIN   use binaries from here instead of running build.sh
#   AGW_ENVTEST_CRDS  extra CRD files/dirs to apply (space separated), e.g.
#                     "$(hack/envtest/gateway-api.sh | sed -n 's/^AGW_GATEWAY_API_CRDS=//p')"
#
# Remember: nothing runs controllers. Namespaces stay Terminating after delete,
# ownerReferences are not garbage-collected, no default ServiceAccount exists,
# and Deployments never get Pods.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
dir=${AGW_ENVTEST_DIR:-/tmp/agw-envtest}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

command -v openssl >/dev/null 2>&1 ||
  die "openssl not found (Debian/Ubuntu: apt-get install openssl; macOS: brew install openssl)"

# --- binaries -----------------------------------------------------------------
bin=${AGW_ENVTEST_BIN:-}
if [[ -z $bin ]]; then
  out=$("$here/build.sh") || die "build.sh failed"
  bin=$(printf '%s\n' "$out" | sed -n 's/^AGW_ENVTEST_BIN=//p' | tail -n1)
fi
for b in etcd kube-apiserver kubectl; do
  [[ -x $bin/$b ]] || die "$bin/$b missing; run hack/envtest/build.sh"
done
kubectl=$bin/kubectl

# --- state dir ----------------------------------------------------------------
if [[ -e $dir ]]; then
  for p in "$dir"/*.pid; do
    [[ -f $p ]] && kill -0 "$(cat "$p")" 2>/dev/null &&
      die "a control plane is already running from $dir (pid $(cat "$p")); run hack/envtest/stop.sh first"
  done
  [[ -f $dir/.agw-envtest ]] || die "$dir exists and is not an agw-envtest dir; remove it or set AGW_ENVTEST_DIR"
  rm -rf "$dir"
fi
mkdir -p "$dir/pki" "$dir/etcd"
touch "$dir/.agw-envtest"
chmod 700 "$dir" "$dir/etcd"

# --- ports --------------------------------------------------------------------
# A port is taken if something accepts a connection on it. Ports are picked below
# the kernel's ephemeral range: there, a port an outgoing connection holds refuses
# connections yet cannot be bound ("address already in use"). Small race window
# between picking and binding otherwise; good enough for a dev script.
taken=" "
read -r ephemeral_low _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || ephemeral_low=32768
(( ephemeral_low > 12000 )) || ephemeral_low=32768
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((10000 + RANDOM % (ephemeral_low - 10000)))
    [[ $taken == *" $p "* ]] && continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      taken+="$p "
      echo "$p"
      return 0
    fi
  done
  die "no free port found"
}
etcd_port=$(free_port); taken+="$etcd_port "
peer_port=$(free_port); taken+="$peer_port "
api_port=$(free_port)

# --- certificates ---------------------------------------------------------------
# One CA signs the apiserver serving cert and the admin client cert
# (--client-ca-file). A separate key pair signs ServiceAccount tokens.
log "generating certificates in $dir/pki"
pki=$dir/pki
source "$here/../lib/pki.sh"
pki_init "$pki"
pki_serving serving "DNS:localhost,IP:127.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.0.0.1"
pki_ca "/CN=agw-envtest-ca"
pki_sign apiserver "/CN=kube-apiserver" serving
pki_sign admin "/O=system:masters/CN=admin" client
pki_keypair sa
pki_done

# --- etcd -----------------------------------------------------------------------
spawn() { # name args...: start detached, log to $dir/<name>.log, pid to $dir/<name>.pid
  local name=$1; shift
  if command -v setsid >/dev/null 2>&1; then
    setsid "$@" </dev/null >"$dir/$name.log" 2>&1 &
  else
    nohup "$@" </dev/null >"$dir/$name.log" 2>&1 &
  fi
  echo $! >"$dir/$name.pid"
}
fail() {
  printf 'error: %s\n' "$1" >&2
  printf -- '--- last lines of %s ---\n' "$dir/$2.log" >&2
  tail -n 30 "$dir/$2.log" >&2 || true
  "$here/stop.sh" --keep >/dev/null 2>&1 || true
  printf 'logs kept in %s; run hack/envtest/stop.sh to remove them\n' "$dir" >&2
  exit 1
}
alive() { kill -0 "$(cat "$dir/$1.pid")" 2>/dev/null; }

log "starting etcd on 127.0.0.1:$etcd_port"
spawn etcd "$bin/etcd" \
  --name=agw-envtest \
  --data-dir="$dir/etcd" \
  --listen-client-urls="http://127.0.0.1:$etcd_port" \
  --advertise-client-urls="http://127.0.0.1:$etcd_port" \
  --listen-peer-urls="http://127.0.0.1:$peer_port" \
  --initial-advertise-peer-urls="http://127.0.0.1:$peer_port" \
  --initial-cluster="agw-envtest=http://127.0.0.1:$peer_port" \
  --unsafe-no-fsync=true

etcd_healthy() { # plain HTTP GET /health without curl
  local resp
  resp=$( { exec 3<>"/dev/tcp/127.0.0.1/$etcd_port" &&
    printf 'GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 && cat <&3; } 2>/dev/null) || return 1
  [[ $resp == *'"health":"true"'* ]]
}
for i in $(seq 1 100); do
  etcd_healthy && break
  alive etcd || fail "etcd exited" etcd
  [[ $i == 100 ]] && fail "etcd not healthy after 20s" etcd
  sleep 0.2
done

# --- kube-apiserver -------------------------------------------------------------
log "starting kube-apiserver on https://127.0.0.1:$api_port"
spawn kube-apiserver "$bin/kube-apiserver" \
  --advertise-address=127.0.0.1 \
  --bind-address=127.0.0.1 \
  --secure-port="$api_port" \
  --cert-dir="$pki" \
  --tls-cert-file="$pki/apiserver.crt" \
  --tls-private-key-file="$pki/apiserver.key" \
  --client-ca-file="$pki/ca.crt" \
  --etcd-servers="http://127.0.0.1:$etcd_port" \
  --service-cluster-ip-range=10.0.0.0/16 \
  --allow-privileged=true \
  --disable-admission-plugins=ServiceAccount \
  --authorization-mode=RBAC \
  --service-account-issuer="https://127.0.0.1:$api_port/" \
  --service-account-key-file="$pki/sa.pub" \
  --service-account-signing-key-file="$pki/sa.key"

# --- kubeconfig -----------------------------------------------------------------
b64() { base64 <"$1" | tr -d '\n'; }
kubeconfig=$dir/kubeconfig
cat >"$kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: agw-envtest
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority-data: $(b64 "$pki/ca.crt")
users:
- name: admin
  user:
    client-certificate-data: $(b64 "$pki/admin.crt")
    client-key-data: $(b64 "$pki/admin.key")
contexts:
- name: agw-envtest
  context:
    cluster: agw-envtest
    user: admin
current-context: agw-envtest
EOF
chmod 600 "$kubeconfig"

t0=$SECONDS
for i in $(seq 1 600); do
  "$kubectl" --kubeconfig="$kubeconfig" --request-timeout=2s get --raw=/readyz >/dev/null 2>&1 && break
  alive kube-apiserver || fail "kube-apiserver exited" kube-apiserver
  [[ $i == 600 ]] && fail "kube-apiserver not ready after 60s" kube-apiserver
  sleep 0.1
done
log "kube-apiserver ready after $((SECONDS - t0))s"

# --- CRDs -----------------------------------------------------------------------
crds=()
for f in "$repo"/crds/*.yaml; do [[ -f $f ]] && crds+=("$f"); done
for p in ${AGW_ENVTEST_CRDS:-}; do
  if [[ -d $p ]]; then for f in "$p"/*.yaml; do [[ -f $f ]] && crds+=("$f"); done
  elif [[ -f $p ]]; then crds+=("$p")
  else die "AGW_ENVTEST_CRDS: $p does not exist"; fi
done
if [[ ${#crds[@]} -gt 0 ]]; then
  log "applying ${#crds[@]} CRD file(s)"
  args=()
  for f in "${crds[@]}"; do args+=(-f "$f"); done
  "$kubectl" --kubeconfig="$kubeconfig" apply --server-side "${args[@]}" >&2
  "$kubectl" --kubeconfig="$kubeconfig" wait --for=condition=Established --timeout=60s crd --all >&2
fi

cat >"$dir/env" <<EOF
export AGW_ENVTEST_BIN=$bin
export KUBECONFIG=$kubeconfig
EOF
log "control plane up: etcd http://127.0.0.1:$etcd_port, apiserver https://127.0.0.1:$api_port"
log "stop with: $here/stop.sh"
cat "$dir/env"
