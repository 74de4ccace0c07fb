# shellcheck shell=bash
# Certificates for the test clusters (hack/envtest/start.sh, hack/cluster/pki.sh): one CA,
# ECDSA P-256 keys in PKCS#8, `openssl x509 -req -extfile`. Sourced, never run.
#
#   pki_init DIR                        # openssl.cnf with [ca] and [client] sections, and the CA
#   pki_serving SECTION "DNS:a,IP:b"     # adds a serverAuth section with those SANs
#   pki_sign NAME SUBJECT SECTION       # DIR/NAME.key + DIR/NAME.crt signed by the CA
#   pki_keypair NAME                    # DIR/NAME.key + DIR/NAME.pub (ServiceAccount tokens)
#   pki_done                            # keys readable by the owner only

pki_init() {
  PKI_DIR=$1
  mkdir -p "$PKI_DIR"
  cat >"$PKI_DIR/openssl.cnf" <<CNF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
}

pki_serving() {
  cat >>"$PKI_DIR/openssl.cnf" <<CNF
[$1]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $2
CNF
}

pki_ossl() {
  openssl "$@" 2>"$PKI_DIR/openssl.err" || {
    cat "$PKI_DIR/openssl.err" >&2
    printf 'error: openssl %s failed\n' "$1" >&2
    exit 1
  }
}

pki_newkey() { pki_ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

# pki_ca SUBJECT: the CA every other certificate is signed by.
pki_ca() {
  pki_newkey "$PKI_DIR/ca.key"
  pki_ossl req -x509 -new -config "$PKI_DIR/openssl.cnf" -key "$PKI_DIR/ca.key" -subj "$1" \
    -days 30 -sha256 -extensions ca -out "$PKI_DIR/ca.crt"
}

pki_sign() {
  pki_newkey "$PKI_DIR/$1.key"
  pki_ossl req -new -config "$PKI_DIR/openssl.cnf" -key "$PKI_DIR/$1.key" -subj "$2" -out "$PKI_DIR/$1.csr"
  pki_ossl x509 -req -in "$PKI_DIR/$1.csr" -CA "$PKI_DIR/ca.crt" -CAkey "$PKI_DIR/ca.key" -CAcreateserial \
    -days 30 -sha256 -extfile "$PKI_DIR/openssl.cnf" -extensions "$3" -out "$PKI_DIR/$1.crt"
  rm -f "$PKI_DIR/$1.csr"
}

pki_keypair() {
  pki_newkey "$PKI_DIR/$1.key"
  pki_ossl pkey -in "$PKI_DIR/$1.key" -pubout -out "$PKI_DIR/$1.pub"
}

pki_done() { chmod 600 "$PKI_DIR"/*.key; }
