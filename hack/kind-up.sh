#!/usr/bin/env bash
# The tutorial on a local kind cluster, for machines with Docker: creates the cluster, builds the
# agw images and loads them, installs agw with Helm as the tutorial does (charts/agw-crds, then
# charts/agw into agw-system), applies the tutorial's Secret and guarded Backend, and prints the
# port-forward and claude commands.
#
#   ANTHROPIC_API_KEY=sk-ant-... hack/kind-up.sh
#
# Needs: docker, kind, kubectl, and helm (on PATH, or $HELM; without either, Go builds it with
# hack/helm/build.sh). Environment: KIND_CLUSTER (default agw), AGW_TAG (default dev),
# AGW_NAMESPACE for the Backend (default default). Re-running reuses the cluster, rebuilds and
# upgrades the releases. (A cluster where an older version of this script ran
# `kubectl apply -k config/default` has objects Helm will not adopt: `kind delete cluster --name
# agw` first.) (The development machines of this project have no container engine; CI does not
# run this.)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cluster=${KIND_CLUSTER:-agw}
tag=${AGW_TAG:-dev}
namespace=${AGW_NAMESPACE:-default}
log() { printf '==> %s\n' "$*" >&2; }
need() { command -v "$1" >/dev/null || { echo "kind-up: $1 is required ($2)" >&2; exit 1; }; }
need docker "https://docs.docker.com/get-docker/"
need kind "https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
need kubectl "https://kubernetes.io/docs/tasks/tools/"
helm=${HELM:-}
if [[ -z $helm ]] && command -v helm >/dev/null; then
  helm=helm
elif [[ -z $helm ]]; then
  need go "https://go.dev/dl/ (to build helm with hack/helm/build.sh), or install helm: https://helm.sh/docs/intro/install/"
  helm=$(hack/helm/build.sh | tail -n 1)
  helm=${helm#AGW_HELM=}
fi
: "${ANTHROPIC_API_KEY:?set ANTHROPIC_API_KEY to the key the proxy should inject}"

if ! kind get clusters | grep -qx "$cluster"; then
  log "creating kind cluster $cluster"
  kind create cluster --name "$cluster"
fi
kubectl config use-context "kind-$cluster" >/dev/null

for target in agw-proxy agw-operator agw-webhook; do
  log "building $target:$tag"
  docker build --target "$target" -t "ghcr.io/agw-dev/$target:$tag" .
  kind load docker-image --name "$cluster" "ghcr.io/agw-dev/$target:$tag"
done

log "installing the Gateway API CRDs (config/gateway-api)"
kubectl apply --server-side -k config/gateway-api

log "installing agw with helm: charts/agw-crds, then charts/agw into agw-system (images :$tag)"
# The namespace first, with the pod-security level config/default gives it (Helm's
# --create-namespace could not label it).
kubectl create namespace agw-system --dry-run=client -o yaml | kubectl apply -f -
kubectl label namespace agw-system --overwrite pod-security.kubernetes.io/enforce=restricted
"$helm" upgrade -i agw-crds charts/agw-crds -n agw-system
# The images were loaded into the node by `kind load`: never pull them.
"$helm" upgrade -i agw charts/agw -n agw-system \
  --set "operator.image.tag=$tag" --set operator.image.pullPolicy=IfNotPresent \
  --set "webhook.image.tag=$tag" --set webhook.image.pullPolicy=IfNotPresent \
  --set "proxy.image.tag=$tag"
kubectl -n agw-system rollout status deployment/agw-operator --timeout=180s
log "waiting for the operator to issue the webhook certificate"
kubectl -n agw-system wait --for=create secret/agw-webhook-tls --timeout=120s
kubectl -n agw-system rollout status deployment/agw-webhook --timeout=180s

log "applying the tutorial's Secret and guarded Backend in namespace $namespace"
kubectl -n "$namespace" create secret generic anthropic-secret \
  --from-literal=Authorization="$ANTHROPIC_API_KEY" --dry-run=client -o yaml | kubectl apply -f -
kubectl -n "$namespace" apply -f config/samples/backend-guarded.yaml
kubectl -n "$namespace" wait --for=condition=Ready backend/anthropic --timeout=180s
kubectl -n "$namespace" get backends

log "applying the tutorial's GatewayClass, Gateway and HTTPRoute (config/samples/gateway)"
kubectl -n "$namespace" apply -k config/samples/gateway
kubectl -n "$namespace" wait --for=condition=Programmed gateway/agentgateway-proxy --timeout=180s
kubectl -n "$namespace" get gateway agentgateway-proxy

cat <<EOT

agw is running. In one terminal, as the tutorial does (through the Gateway):

  kubectl -n $namespace port-forward deployment/agentgateway-proxy 8080:80

or straight to the Backend's own proxy:

  kubectl -n $namespace port-forward svc/anthropic-proxy 8080:80

In another:

  ANTHROPIC_BASE_URL=http://localhost:8080 claude -p "What is Kubernetes?"
  ANTHROPIC_BASE_URL=http://localhost:8080 claude -p "What is a credit card"   # rejected

EOT
