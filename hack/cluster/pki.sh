# shellcheck shell=bash
# Certificates of the one-node cluster (sourced by up.sh), made with hack/lib/pki.sh as
# hack/envtest/start.sh makes its own. Each client certificate's CN/O is the identity a
# bootstrap RBAC binding grants (system:node:<node>, system:kube-controller-manager, ...).
source "$(dirname "${BASH_SOURCE[0]}")/../lib/pki.sh"
make_pki() {
  pki_init "$R/pki"
  pki_serving apiserver "DNS:localhost,IP:127.0.0.1,IP:$NODE_IP,IP:$KUBERNETES_SVC_IP,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  pki_serving kubelet-serving "DNS:$CLUSTER_NS,IP:$NODE_IP"
  pki_ca "/CN=agw-cluster-ca"
  pki_sign apiserver "/CN=kube-apiserver" apiserver
  pki_sign kubelet-serving "/CN=system:node:$CLUSTER_NS" kubelet-serving
  pki_sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" client
  pki_sign admin "/O=system:masters/CN=admin" client
  pki_sign kubelet "/O=system:nodes/CN=system:node:$CLUSTER_NS" client
  pki_sign kube-controller-manager "/CN=system:kube-controller-manager" client
  pki_sign kube-scheduler "/CN=system:kube-scheduler" client
  pki_sign kube-proxy "/CN=system:kube-proxy" client
  pki_keypair sa
  pki_done
}

# kubeconfig FILE SERVER CERT: a kubeconfig at $R/FILE for the client certificate CERT.
kubeconfig() {
  local b64ca b64crt b64key
  b64ca=$(base64 -w0 <"$R/pki/ca.crt")
  b64crt=$(base64 -w0 <"$R/pki/$3.crt")
  b64key=$(base64 -w0 <"$R/pki/$3.key")
  cat >"$R/$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: $CLUSTER_NS
  cluster: {server: "$2", certificate-authority-data: $b64ca}
users:
- name: $3
  user: {client-certificate-data: $b64crt, client-key-data: $b64key}
contexts:
- name: $CLUSTER_NS
  context: {cluster: $CLUSTER_NS, user: $3}
current-context: $CLUSTER_NS
KC
  chmod 600 "$R/$1"
}
