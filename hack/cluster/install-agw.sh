#!/usr/bin/env bash
# Installs agw into the cluster of up.sh as a user would: the Gateway API CRDs
# (`kubectl apply --server-side -k config/gateway-api`), then `kubectl apply -k config/default` with only the
# image names changed to the images images.sh imported. Waits until the operator (two
# replicas) and the webhook are Available and the apiserver gets the webhook's verdict through
# its Service.
#
#   eval "$(hack/cluster/up.sh)"; hack/cluster/install-agw.sh
#
# stdout: the AGW_IMAGE_* lines of images.sh. AGW_IMAGE_BIN_DIR is passed on to images.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
started=$SECONDS
find_bins
kc() { kubectl_root "$@"; }

images=$("$HACK_CLUSTER/images.sh")
eval "$(printf '%s\n' "$images" | sed -n 's/^\(AGW_IMAGE_[A-Z]*\)=\(.*\)$/\1=\2/p')"
printf '%s\n' "$images"

log "kubectl apply --server-side -k config/gateway-api"
kc apply --server-side -k "$REPO/config/gateway-api" >&2

overlay=$R/install
mkdir -p "$overlay"
rel=$(python3 -c 'import os,sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$REPO/config/default" "$overlay")
cat >"$overlay/kustomization.yaml" <<YAML
# config/default with the images hack/cluster/images.sh imported; nothing else changed.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- $rel
images:
- {name: ghcr.io/agw-dev/agw-operator, newName: ${AGW_IMAGE_OPERATOR%:*}, newTag: ${AGW_IMAGE_OPERATOR##*:}}
- {name: ghcr.io/agw-dev/agw-webhook, newName: ${AGW_IMAGE_WEBHOOK%:*}, newTag: ${AGW_IMAGE_WEBHOOK##*:}}
patches:
# The operator names the proxy image in a flag, which kustomize's images field does not reach.
- target: {kind: Deployment, name: agw-operator}
  patch: |-
    - {op: test, path: /spec/template/spec/containers/0/args/0, value: "--proxy-image=ghcr.io/agw-dev/agw-proxy:0.1.0"}
    - {op: replace, path: /spec/template/spec/containers/0/args/0, value: "--proxy-image=$AGW_IMAGE_PROXY"}
YAML
rendered=$(kc kustomize "$overlay")
if grep -q 'ghcr.io/agw-dev' <<<"$rendered"; then
  die "config/default still names a ghcr.io image after the overlay in $overlay: $(grep 'ghcr.io/agw-dev' <<<"$rendered")"
fi
log "kubectl apply -k config/default (images: $AGW_IMAGE_OPERATOR, $AGW_IMAGE_WEBHOOK, $AGW_IMAGE_PROXY)"
kc apply -k "$overlay" >&2

log "waiting for agw-operator and agw-webhook to be Available"
if ! kc -n agw-system rollout status deployment/agw-operator deployment/agw-webhook --timeout=180s >&2; then
  kc -n agw-system get pods -o wide >&2
  kc -n agw-system describe pods >&2
  kc -n agw-system logs deployment/agw-operator --all-containers --tail=50 >&2 || true
  kc -n agw-system logs deployment/agw-webhook --all-containers --tail=50 >&2 || true
  die "agw did not become Available"
fi
# The operator issues the webhook's certificate and caBundle; until then a Backend cannot be
# admitted. A server-side dry run goes through the webhook pod behind its Service.
log "waiting for the webhook to admit a Backend (server-side dry run)"
deadline=$((SECONDS + 90))
until out=$(kc apply --dry-run=server -n default -f "$REPO/config/samples/backend-flexible.yaml" 2>&1); do
  ((SECONDS < deadline)) || die "the webhook never admitted config/samples/backend-flexible.yaml: $out"
  sleep 1
done
log "agw installed in $((SECONDS - started))s"
