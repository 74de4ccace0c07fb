#!/usr/bin/env bash
# Copies the Gateway API standard-channel CRDs of the release agw is tested with (fetched from
# the sigs.k8s.io/gateway-api Go module by hack/envtest/gateway-api.sh) into config/gateway-api/,
# so `kubectl apply --server-side -k config/gateway-api` installs them without reaching GitHub.
# e2e/tests/install.rs fails when the vendored files and the module's differ; run this script
# after changing GATEWAY_API_VERSION in hack/envtest/gateway-api.sh and e2e/src/binaries.rs.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$repo/config/gateway-api
src=$("$repo/hack/envtest/gateway-api.sh" | sed -n 's/^AGW_GATEWAY_API_CRDS=//p')
[[ -d $src ]] || { echo "error: hack/envtest/gateway-api.sh printed no CRD directory" >&2; exit 1; }
version=${src##*/gateway-api-}

rm -f "$out"/gateway.networking.k8s.io_*.yaml
files=()
for f in "$src"/*.yaml; do
  cp "$f" "$out/"
  files+=("${f##*/}")
done
{
  cat <<YAML
# Gateway API CRDs $version, standard channel: the release agw is tested with, copied unchanged
# from config/crd/standard of the sigs.k8s.io/gateway-api Go module by hack/vendor-gateway-api.sh
# (no download from GitHub needed). Install once per cluster, before or after agw:
#   kubectl apply --server-side -k config/gateway-api
# (server-side: the HTTPRoute CRD is larger than client-side apply's annotation limit).
# agw-operator starts serving Gateways within 30 s of their CRDs appearing.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
YAML
  printf -- '- %s\n' "${files[@]}"
} >"$out/kustomization.yaml"
echo "==> vendored ${#files[@]} Gateway API $version CRDs into config/gateway-api" >&2
