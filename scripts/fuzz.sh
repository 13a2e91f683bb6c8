#!/usr/bin/env bash
# Runs the fuzz targets (tests/DfbNet.Server.Tests/FuzzTests.cs: encoded images, raw buffers, OIP tensors and requests,
# native options, metadata and frames) with N inputs each (default 200000), and prints what each did with them.
# The test suite runs the same targets with 400 inputs each. A failure prints CsCheck's seed; rerun with
# CsCheck_Seed=SEED to replay it. Usage: scripts/fuzz.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
iterations=${1:-200000}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build tests/DfbNet.Server.Tests -c Release -v quiet -nologo >/dev/null
start=$(date +%s)
DFBNET_FUZZ_ITERATIONS=$iterations dotnet test tests/DfbNet.Server.Tests -c Release --no-build \
  --filter "FullyQualifiedName~DfbNet.Server.Tests.FuzzTests" --logger "console;verbosity=detailed" 2>&1 \
  | grep -E "inputs, |Passed |Failed |Error Message|CsCheck|Total tests|Passed:|Failed:" || true
echo "fuzz: $iterations inputs per target in $(( $(date +%s) - start )) s on $(nproc) cores"
