#!/usr/bin/env bash
# Prepares, on this machine, everything a GPU benchmark needs on a lent device machine, where at most 64 MiB travel
# per call (the working tree counts too): the self-contained CLI and server without their CUDA provider, that provider xz-compressed
# in parts of under 47 MB, the paper preset untrained with zero weights (float32 and float16; 408 MB that compress to
# under 100 KB), and the first 2,000 CIFAR-10 test images. Writes them to .device/ (git-ignored) and prints the calls.
# With EDGE_CHECKPOINT (the bundled model's training folder, .data/edge-v4), also that model exported in float16 with
# the bundled manifest (its thresholds), to time float16 and measure its accuracy on the GPU.
#   [EDGE_CHECKPOINT=.data/edge-v4] scripts/gpu-device/stage.sh [SHARED_DATA]     (default ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/../.."
shared=${1:-../shared/data}
out=.device
native=$(dirname "$(find ~/.nuget/packages/microsoft.ml.onnxruntime.gpu.linux -name libonnxruntime_providers_cuda.so | head -1)")
[ -f "$native/libonnxruntime_providers_cuda.so" ] || { echo "ONNX Runtime's GPU package is not restored: run dotnet restore first" >&2; exit 1; }
[ -f "$shared/cifar-10/test_batch.bin.xz" ] || { echo "no $shared/cifar-10/test_batch.bin.xz" >&2; exit 1; }
rm -rf "$out" && mkdir -p "$out/stage"

echo "[1/4] the CLI and the server, self-contained, without libtorch (training is not run there) and without the CUDA/TensorRT providers"
dotnet publish src/DfbNet.Cli -c Release -r linux-x64 --self-contained true -o "$out/stage/cli" >/dev/null
dotnet publish src/DfbNet.Server -c Release -r linux-x64 --self-contained true -o "$out/stage/cli" >/dev/null
rm -f "$out"/stage/cli/libtorch* "$out"/stage/cli/libc10* "$out"/stage/cli/libgomp* "$out"/stage/cli/libshm.so \
  "$out"/stage/cli/libbackend_with_compiler.so "$out"/stage/cli/libonnxruntime_providers_cuda.so "$out"/stage/cli/libonnxruntime_providers_tensorrt.so
tar -C "$out/stage" -cf - cli | xz -6 -T0 > "$out/cli.tar.xz"

echo "[2/4] the CUDA provider ($(du -h "$native/libonnxruntime_providers_cuda.so" | cut -f1)), compressed and split"
xz -6 -T0 -c "$native/libonnxruntime_providers_cuda.so" > "$out/stage/cuda.xz"
sha256sum "$native/libonnxruntime_providers_cuda.so" | cut -d' ' -f1 > "$out/cuda.sha256"
split -b 47000000 -d -a 1 "$out/stage/cuda.xz" "$out/cuda.part-"

echo "[3/4] the paper preset, untrained, zero weights, float32 and float16"
# The local build: the staged CLI has no libtorch, which synth --preset needs.
cli="dotnet src/DfbNet.Cli/bin/Release/net10.0/linux-x64/dfbnet.dll"
$cli synth --preset paper --zero-weights --out "$out/stage/models/paper-zero" >/dev/null
$cli synth --preset paper --zero-weights --fp16 --out "$out/stage/models/paper-zero-fp16" >/dev/null
tar -C "$out/stage" -cf - models | xz -6 -T0 > "$out/paper-models.tar.xz"

if [ -n "${EDGE_CHECKPOINT:-}" ]; then
  echo "[3b/4] the bundled model's checkpoint ($EDGE_CHECKPOINT) in float16, with the bundled manifest"
  $cli export --checkpoint "$EDGE_CHECKPOINT" --out "$out/stage/models/edge-fp16" --fp16 >/dev/null
  cp models/default/manifest.json "$out/stage/models/edge-fp16/manifest.json"
  tar -C "$out/stage" -cf - models/edge-fp16 | xz -6 -T0 > "$out/edge-fp16.tar.xz"
fi

echo "[4/4] CIFAR-10 test images 1..2000"
# head stops reading early, so the decompressor ends on SIGPIPE: not an error here.
(xz -dc "$shared/cifar-10/test_batch.bin.xz" || true) | head -c $((3073 * 2000)) | xz -6 > "$out/test-2000.bin.xz"

rm -rf "$out/stage"
ls -l "$out"
# shellcheck disable=SC2012  # the part names are this script's own (cuda.part-aa, ...)
parts=$(cd "$out" && ls cuda.part-* | sort)
last=$(echo "$parts" | tail -1)
echo
echo "Device calls (one after another, so that the machine stays warm; scripts/gpu-device/run.sh says what each does):"
echo "  run(command='scripts/gpu-device/run.sh stash', carry=['.device/cli.tar.xz', '.device/paper-models.tar.xz', '.device/cuda.sha256'])"
first=yes
for p in $parts; do
  [ "$p" = "$last" ] && continue
  if [ $first = yes ]; then
    echo "  run(command='scripts/gpu-device/run.sh stash', carry=['.device/$p', '.device/test-2000.bin.xz'])"
    first=no
  else
    echo "  run(command='scripts/gpu-device/run.sh stash', carry=['.device/$p'])"
  fi
done
extra=""
[ -f "$out/edge-fp16.tar.xz" ] && extra=", '.device/edge-fp16.tar.xz'"
echo "  run(command='scripts/gpu-device/run.sh bench', carry=['.device/$last'$extra], timeout_s=480)"
