#!/usr/bin/env bash
# For users with Docker: a kind cluster running agw end to end, mirroring the Claude Code tutorial.
#
#   ANTHROPIC_API_KEY=sk-ant-... hack/kind-up.sh
#
# Creates the kind cluster "agw" (override with KIND_CLUSTER), builds the three images, loads them
# into the cluster, installs config/default, applies the tutorial's Secret and guarded Backend in
# namespace agw-system, waits for the Backend to be Ready and prints the port-forward and claude
# commands to try. Re-running it is safe: each step is idempotent.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cluster=${KIND_CLUSTER:-agw}
tag=${AGW_IMAGE_TAG:-dev}
ns=agw-system

need() { command -v "$1" >/dev/null || { echo "error: $1 is required (see README.md, Kubernetes quickstart)" >&2; exit 1; }; }
need docker; need kind; need kubectl
: "${ANTHROPIC_API_KEY:?set ANTHROPIC_API_KEY to your Anthropic API key}"

echo "==> kind cluster ${cluster}"
kind get clusters | grep -qx "$cluster" || kind create cluster --name "$cluster"

for target in agw-proxy agw-operator agw-webhook; do
  echo "==> image ${target}:${tag}"
  docker build --target "$target" --build-arg VERSION="$tag" -t "ghcr.io/agw-dev/${target}:${tag}" .
  kind load docker-image --name "$cluster" "ghcr.io/agw-dev/${target}:${tag}"
done

echo "==> installing config/default"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cat > "$work/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- $(pwd)/config/default
images:
- { name: ghcr.io/agw-dev/agw-operator, newTag: "${tag}" }
- { name: ghcr.io/agw-dev/agw-webhook, newTag: "${tag}" }
patches:
- target: { kind: Deployment, name: agw-operator }
  patch: |-
    - op: add
      path: /spec/template/spec/containers/0/args/-
      value: --proxy-image=ghcr.io/agw-dev/agw-proxy:${tag}
YAML
kubectl apply -k "$work"
kubectl -n "$ns" rollout status deployment/agw-operator --timeout=180s
kubectl -n "$ns" rollout status deployment/agw-webhook --timeout=180s

echo "==> tutorial Secret and Backend"
kubectl apply -f- <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: anthropic-secret
  namespace: ${ns}
type: Opaque
stringData:
  Authorization: ${ANTHROPIC_API_KEY}
YAML
kubectl apply -n "$ns" -f config/samples/backend-guarded.yaml
kubectl -n "$ns" wait backend/anthropic --for=condition=Ready --timeout=180s
kubectl -n "$ns" get backends

cat <<TXT

agw is running. In another terminal:

  kubectl port-forward -n ${ns} service/anthropic-proxy 8080:80

then:

  ANTHROPIC_BASE_URL=http://localhost:8080 claude -p "What is Kubernetes?"      # Claude answers
  ANTHROPIC_BASE_URL=http://localhost:8080 claude -p "What is a credit card"    # rejected by the guard
TXT
