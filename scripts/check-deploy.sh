#!/usr/bin/env bash
# Offline checks of deploy/: every file a Dockerfile copies exists; yamllint and shellcheck pass; every kustomize
# folder renders (kubectl kustomize, kubectl 1.21 or newer); the rendered objects and the KServe files validate against
# the Kubernetes, KEDA, Gateway API and Prometheus Operator schemas (deploy/check, npm kubernetes-models).
# Needs: yamllint, shellcheck (Debian packages), node and npm, and kubectl for the rendering. Debian 12 has no kubectl
# recent enough (its kubernetes-client 1.20 carries kustomize 2, which predates these files' syntax): without one the
# script says so and validates each resource file as written instead of the rendered overlays.
# Usage: scripts/check-deploy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
fail() { echo "check-deploy: $*" >&2; status=1; }

echo "== Dockerfile sources"
for dockerfile in deploy/docker/Dockerfile*; do
  # COPY lines without --from: every source (all words but the last) must exist in the build context.
  while read -r -a words; do
    sources=("${words[@]:1:${#words[@]}-2}")
    for source in "${sources[@]}"; do
      [[ $source == --* ]] && continue
      [ -e "$source" ] || fail "$dockerfile copies '$source', which does not exist"
    done
  done < <(grep -E '^COPY ' "$dockerfile" | grep -v -- '--from=')
  echo "$dockerfile: every COPY source exists"
done

echo "== yamllint, shellcheck"
yamllint -c .yamllint.yaml deploy/ || fail "yamllint found problems"
shellcheck scripts/*.sh deploy/gpu-bundle/*.sh scripts/gpu-device/*.sh || fail "shellcheck found problems"

echo "== kustomize"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
objects=()
if kubectl kustomize --help >/dev/null 2>&1 && kubectl version --client 2>/dev/null | grep -q 'Kustomize Version: v[4-9]'; then
  for folder in deploy/k8s/overlays/cpu deploy/k8s/overlays/gpu deploy/k8s/monitoring deploy/k8s/balancing; do
    name=$(echo "$folder" | tr / -)
    if kubectl kustomize "$folder" > "$out/$name.yaml"; then
      echo "$folder: $(grep -c '^kind:' "$out/$name.yaml") objects"
      objects+=("$out/$name.yaml")
    else
      fail "$folder does not render"
    fi
  done
else
  echo "check-deploy: no kubectl with kustomize 4 or newer here: the overlays are not rendered; each resource file is validated as written"
  while IFS= read -r file; do objects+=("$file"); done < <(find deploy/k8s -name '*.yaml' ! -name kustomization.yaml ! -name envoy.yaml | sort)
fi

echo "== schemas"
(cd deploy/check && npm ci --no-audit --no-fund --silent)
node deploy/check/validate.mjs "${objects[@]}" deploy/kserve/*.yaml || fail "an object does not match its schema"

[ "$status" = 0 ] && echo "check-deploy: all checks passed"
exit "$status"
