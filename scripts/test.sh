#!/usr/bin/env bash
# Runs every test of the repository on a fresh Debian 12 machine with the .NET 10 SDK.
# Installs what the tests need first, so that CI (.ci/run) and a developer run the same thing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v g++ >/dev/null 2>&1 || need_apt+=(g++)            # builds TorchSharp's GLIBCXX compat library
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)      # the CLI's video test decodes a real video
command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)    # the TypeScript SDK's tests
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)      # scripts/make-test-certs.sh makes the TLS tests' certificates
command -v curl >/dev/null 2>&1 || need_apt+=(curl)            # the REST API is tested with curl
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)      # ... and with Python's urllib, a client not ours
command -v yamllint >/dev/null 2>&1 || need_apt+=(yamllint)    # scripts/check-deploy.sh: deploy/'s YAML
command -v shellcheck >/dev/null 2>&1 || need_apt+=(shellcheck) # ... and the scripts
command -v unzip >/dev/null 2>&1 || need_apt+=(unzip)          # scripts/pack-consume.sh looks inside the .nupkg files
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "Installing: ${need_apt[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build DfbNet.sln -c Release
log=$(mktemp)
tslog=$(mktemp)
trap 'rm -f "$log" "$tslog"' EXIT
status=0
dotnet test DfbNet.sln -c Release --no-build --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log" || status=$?

# The TypeScript SDK: its tests start the server built above. Node 20 and npm come with the machine.
(
  cd clients/typescript
  npm ci --no-audit --no-fund
  npm run build
  npm test
) 2>&1 | tee "$tslog" || status=1

# A checking script as one step: its output only when it fails. Sets the named result variable to passed or FAILED.
step() {
  local result=$1 steplog
  shift
  steplog=$(mktemp)
  if "$@" >"$steplog" 2>&1; then
    printf -v "$result" passed
  else
    printf -v "$result" FAILED
    status=1
    cat "$steplog"
  fi
  rm -f "$steplog"
}

deploy="not run"
packages="not run"
# deploy/ offline: Dockerfile sources, yamllint, shellcheck, kustomize renders (where kubectl has kustomize 4+), schemas.
step deploy scripts/check-deploy.sh
# The packages: packed into a local feed, consumed by the samples from there, run against the built server.
step packages scripts/pack-consume.sh

# One closing line for every test project together (.NET: "Passed: N" lines; node --test: "ℹ pass N" lines).
count() { awk -v key="$1:" '$1 == key && NF == 2 { s += $2 } END { print s + 0 }' "$log"; }
tscount() { awk -v key="$1" '$1 == "ℹ" && $2 == key && NF == 3 { s += $3 } END { print s + 0 }' "$tslog"; }
passed=$(( $(count Passed) + $(tscount pass) ))
failed=$(( $(count Failed) + $(tscount fail) + $(tscount cancelled) ))
skipped=$(( $(count Skipped) + $(tscount skipped) + $(tscount todo) ))
# The failed tests by name, last, where a CI log cut to its tail still shows them.
if [ "$failed" -gt 0 ]; then
  echo "Failed tests:"
  # Each .NET failure with the first lines of its error message (up to its stack trace).
  awk '/^[[:space:]]+Failed [A-Za-z]/ { print; show = 1; n = 0; next }
       show && /^[[:space:]]+Stack Trace:/ { show = 0 }
       show && n < 6 { print; n++ }' "$log" || true
  grep -E '^[[:space:]]*✖ ' "$tslog" | sed -E 's/^[[:space:]]*/  /' | sort -u || true
fi
echo "$passed passed, $failed failed, $skipped skipped; deploy checks $deploy; packages $packages"
exit $status
