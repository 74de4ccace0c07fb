# shellcheck shell=bash
# Certificates of the one-node cluster (sourced by up.sh): one CA, ECDSA P-256 keys, the recipe
# of hack/envtest/start.sh. Each client certificate's CN/O is the identity a bootstrap RBAC
# binding grants (system:node:<node>, system:kube-controller-manager, ...).
make_pki() {
  local pki=$R/pki
  mkdir -p "$pki"
  cat >"$pki/openssl.cnf" <<CNF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[apiserver]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:$NODE_IP,IP:$KUBERNETES_SVC_IP,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
[kubelet-serving]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:$CLUSTER_NS,IP:$NODE_IP
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
  ossl() { openssl "$@" 2>"$pki/openssl.err" || { cat "$pki/openssl.err" >&2; die "openssl $1 failed"; }; }
  newkey() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
  sign() { # name subject extensions-section
    newkey "$pki/$1.key"
    ossl req -new -config "$pki/openssl.cnf" -key "$pki/$1.key" -subj "$2" -out "$pki/$1.csr"
    ossl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
      -days 30 -sha256 -extfile "$pki/openssl.cnf" -extensions "$3" -out "$pki/$1.crt"
    rm -f "$pki/$1.csr"
  }
  newkey "$pki/ca.key"
  ossl req -x509 -new -config "$pki/openssl.cnf" -key "$pki/ca.key" -subj "/CN=agw-cluster-ca" \
    -days 30 -sha256 -extensions ca -out "$pki/ca.crt"
  sign apiserver "/CN=kube-apiserver" apiserver
  sign kubelet-serving "/CN=system:node:$CLUSTER_NS" kubelet-serving
  sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" client
  sign admin "/O=system:masters/CN=admin" client
  sign kubelet "/O=system:nodes/CN=system:node:$CLUSTER_NS" client
  sign kube-controller-manager "/CN=system:kube-controller-manager" client
  sign kube-scheduler "/CN=system:kube-scheduler" client
  sign kube-proxy "/CN=system:kube-proxy" client
  newkey "$pki/sa.key"
  ossl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub"
  chmod 600 "$pki"/*.key
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
