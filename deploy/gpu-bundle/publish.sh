#!/usr/bin/env bash
# Publishes the DfbNet server and CLI self-contained for linux-x64 with ONNX Runtime's GPU build
# (CUDA and TensorRT providers included), plus the bundled models, into one folder and a tarball.
#   deploy/gpu-bundle/publish.sh [OUT_DIR]      (default: artifacts/dfbnet-gpu-linux-x64)
# The host needs what deploy/gpu-bundle/README.md lists; no .NET install is needed there.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-artifacts/dfbnet-gpu-linux-x64}
rm -rf "$out"
mkdir -p "$out"
echo "Publishing the server to $out/server"
dotnet publish src/DfbNet.Server -c Release -r linux-x64 --self-contained true -p:PublishReadyToRun=false -o "$out/server"
echo "Publishing the CLI to $out/cli"
dotnet publish src/DfbNet.Cli -c Release -r linux-x64 --self-contained true -o "$out/cli"
cp -r models "$out/models"
cp deploy/gpu-bundle/README.md "$out/README.md"
cp deploy/gpu-bundle/run-server.sh "$out/run-server.sh"
chmod +x "$out/run-server.sh"
for lib in libonnxruntime.so libonnxruntime_providers_shared.so libonnxruntime_providers_cuda.so libonnxruntime_providers_tensorrt.so; do
  [ -f "$out/server/$lib" ] || { echo "missing $lib in the server publish output" >&2; exit 1; }
done
tar -C "$(dirname "$out")" -czf "$out.tar.gz" "$(basename "$out")"
du -sh "$out" "$out.tar.gz"
