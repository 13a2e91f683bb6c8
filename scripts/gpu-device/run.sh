#!/usr/bin/env bash
# Runs on the lent GPU machine (see stage.sh, which prints the calls). Files carried in .device/ are kept in
# ~/dfbnet-gpu between calls (it lasts while the machine stays warm).
#   run.sh stash     keep this call's .device/ files
#   run.sh bench     keep them, assemble the CLI and its CUDA provider, and write the benchmark to $OUT
#   run.sh train     keep them, and train the paper and tiny presets for an epoch on the GPU (TorchSharp on the
#                    machine's PyTorch libtorch; the test images stand in for the training set): a check and a rate
# SMOKE=1 runs the same steps on the CPU provider with a few images (a check of this script on any machine).
set -euo pipefail
cd "$(dirname "$0")/../.."
keep=$HOME/dfbnet-gpu
mkdir -p "$keep"
[ -d .device ] && cp -v .device/* "$keep"/
ls -l "$keep"
[ "${1:-stash}" = "stash" ] && exit 0

# xz -dc, or Python's lzma where the machine has no xz.
unxz_to_stdout() {
  if command -v xz >/dev/null 2>&1; then xz -dc "$@"; else python3 -c 'import lzma, shutil, sys
for f in sys.argv[1:]:
    with lzma.open(f) as src: shutil.copyfileobj(src, sys.stdout.buffer)' "$@"; fi
}

out=${OUT:-$keep/out}
mkdir -p "$out"
cd "$keep"
[ -d cli ] || unxz_to_stdout cli.tar.xz | tar -xf -
[ -d models/paper-zero ] || [ ! -f paper-models.tar.xz ] || unxz_to_stdout paper-models.tar.xz | tar -xf -
[ ! -f edge-fp16.tar.xz ] || [ -d models/edge-fp16 ] || unxz_to_stdout edge-fp16.tar.xz | tar -xf -
mkdir -p data/cifar-10
[ -f data/cifar-10/test_batch.bin ] || unxz_to_stdout test-2000.bin.xz > data/cifar-10/test_batch.bin
if [ "${1:-}" = train ]; then
  tl=$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
  nvidia=$(python3 -c 'import nvidia; print(list(nvidia.__path__)[0])')
  LD_LIBRARY_PATH=$tl:$(find "$nvidia" -name 'lib*.so*' -printf '%h\n' | sort -u | paste -sd:):${LD_LIBRARY_PATH:-}
  export LD_LIBRARY_PATH
  for i in 1 2 3 4 5; do ln -sf test_batch.bin data/cifar-10/data_batch_$i.bin; done
  {
    nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
    echo "== tiny preset, 1 + 1 epochs on 5,000 images (1,000 more held out)"
    timeout 60 cli/dfbnet train --preset tiny --data data --out train-tiny --libtorch "$tl" --baseline-epochs 1 --epochs 1 --validation 1000 --train-limit 6000 2>&1 | tail -6
    echo "== paper preset, 1 + 1 epochs on 5,000 images (1,000 more held out)"
    timeout 100 cli/dfbnet train --preset paper --data data --out train-paper --libtorch "$tl" --baseline-epochs 1 --epochs 1 --validation 1000 --train-limit 6000 2>&1 | tail -8
  } 2>&1 | tee "$out/train.txt"
  exit 0
fi

if [ ! -f cli/libonnxruntime_providers_cuda.so ]; then
  cat cuda.part-* > cuda.xz && unxz_to_stdout cuda.xz > cli/libonnxruntime_providers_cuda.so && rm cuda.xz
  echo "$(cat cuda.sha256)  cli/libonnxruntime_providers_cuda.so" | sha256sum -c -
fi

# The CUDA 13 and cuDNN 9 libraries of the machine's PyTorch install.
nvidia=$(python3 -c 'import nvidia; print(list(nvidia.__path__)[0])' 2>/dev/null || true)
if [ -n "$nvidia" ]; then
  LD_LIBRARY_PATH=$(find "$nvidia" -name 'lib*.so*' -printf '%h\n' | sort -u | paste -sd:):${LD_LIBRARY_PATH:-}
  export LD_LIBRARY_PATH
else
  echo "no PyTorch nvidia libraries found: the CUDA provider will not load"
fi
repo=$(cd - >/dev/null && pwd)

{
  date -u +"date: %Y-%m-%d %H:%M UTC"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/gpu: /' || echo "gpu: none"
  nvidia-smi | grep -o 'CUDA Version: [0-9.]*' | sed 's/^/driver /' || true
  python3 -c 'import torch; print("pytorch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())' 2>/dev/null || true
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
  # What the CUDA provider would not find: the first thing to read when it fails to load.
  echo "libraries the CUDA provider lacks: $(ldd cli/libonnxruntime_providers_cuda.so | grep 'not found' | awk '{print $1}' | paste -sd' ' || true)"
} | tee "$out/machine.txt"

bench() { # name, then dfbnet bench arguments
  local name=$1; shift
  echo "== $name: dfbnet bench $*" | tee -a "$out/bench.txt"
  timeout 100 cli/dfbnet bench "$@" 2>&1 | grep -v '^\s*$' | tee -a "$out/bench.txt" || echo "(exit $?)" | tee -a "$out/bench.txt"
}

# Only CUDA: were it to fall back to the CPU, the paper model would take hours. The paper preset's weights are zero,
# so its errors mean nothing; its exit paths are weighted by the paper's CIFAR-10 exit ratios.
# shellcheck disable=SC2054  # --exit-ratios takes one comma-separated value
if [ "${SMOKE:-0}" = 1 ]; then
  edge=(--data data --providers cpu --limit 100 --timing-images 50)
  photos=8
  paper=(--data data --providers cpu --limit 4 --timing-images 4 --preset main --exit-ratios 80.03,9.48,9.19,1.30)
else
  edge=(--data data --providers cuda --timing-images 2000)
  photos=500
  paper=(--data data --providers cuda --limit 500 --timing-images 500 --preset main --exit-ratios 80.03,9.48,9.19,1.30)
fi

# The server end to end on the GPU: both models served with captured graphs, two streams at once of 500 PNG frames
# each (4 in flight per stream), then the providers it logged and its metrics.
serve() {
  echo "== server: dfbnet-server with --DfbNet:ExecutionProviders=$1 --DfbNet:CudaGraphs=true; two dfbnet stream runs at once" | tee -a "$out/bench.txt"
  rm -rf e2e && mkdir -p e2e/models && ln -s "$repo/models/default" e2e/models/default && ln -s "$keep/models/paper-zero" e2e/models/paper-zero
  [ -d photos ] || python3 "$repo/scripts/gpu-device/cifar-png.py" data/cifar-10/test_batch.bin photos "$photos"
  cli/dfbnet-server --urls http://127.0.0.1:50051 --DfbNet:ModelRoot="$keep/e2e/models" --DfbNet:ExecutionProviders="$1" \
    --DfbNet:CudaGraphs=true --DfbNet:MetricsUrl=http://127.0.0.1:9464 > "$out/server.log" 2>&1 &
  local pid=$! i
  for i in $(seq 1 90); do
    cli/dfbnet classify photos/00000.png --server http://127.0.0.1:50051 >/dev/null 2>&1 && break
    sleep 1
  done
  cli/dfbnet classify photos/00000.png photos/00001.png --server http://127.0.0.1:50051 2>&1 | tee -a "$out/bench.txt"
  (timeout 60 cli/dfbnet stream photos --server http://127.0.0.1:50051 --max-in-flight 4 --quiet > e2e/a.txt 2>&1) &
  local a=$!
  timeout 60 cli/dfbnet stream photos --server http://127.0.0.1:50051 --model paper-zero --mode full --max-in-flight 4 --quiet > e2e/b.txt 2>&1 || true
  wait $a || true
  { echo "-- stream, model default (first-exit):"; cat e2e/a.txt; echo "-- stream, model paper-zero (full), at the same time:"; cat e2e/b.txt; } | tee -a "$out/bench.txt"
  curl -s http://127.0.0.1:9464/metrics | grep -E '^dfbnet_(frames_total|provider|stage_duration_seconds_(sum|count))' > "$out/metrics.txt" || true
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  grep -E 'runs on|replays a captured graph|could not be captured|skipped|graph capture off|fail|rror' "$out/server.log" | cut -c1-300 | tee -a "$out/bench.txt" || true
}

# Most important first: what comes back when the call runs out of time is what was measured until then.
bench "paper fp32, CUDA graphs" --model models/paper-zero "${paper[@]}" --cuda-graphs
bench "paper fp16, CUDA graphs, NHWC kernels" --model models/paper-zero-fp16 "${paper[@]}" --cuda-graphs --cuda-option prefer_nhwc=1
bench "edge, CUDA graphs" --model "$repo/models/default" "${edge[@]}" --cuda-graphs
if [ "${SMOKE:-0}" = 1 ]; then serve cpu; else serve cuda,cpu; fi
bench "paper fp32, CUDA graphs, NHWC kernels" --model models/paper-zero "${paper[@]}" --cuda-graphs --cuda-option prefer_nhwc=1
[ ! -d models/edge-fp16 ] || bench "edge float16 (the bundled model's checkpoint), CUDA graphs" --model models/edge-fp16 "${edge[@]}" --cuda-graphs
bench "paper fp32, CUDA (no graphs)" --model models/paper-zero "${paper[@]}" --cuda-graphs false
bench "edge, CUDA (no graphs)" --model "$repo/models/default" "${edge[@]}" --cuda-graphs false
bench "paper fp32, CUDA graphs, again (run-to-run spread)" --model models/paper-zero "${paper[@]}" --cuda-graphs
