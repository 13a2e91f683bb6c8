#!/usr/bin/env bash
# Starts the bundled server. CUDA_LIB_DIRS: colon-separated folders holding the CUDA 13, cuDNN 9 (and
# optionally TensorRT 10) libraries, for example a PyTorch install's site-packages/nvidia/cu13/lib and
# site-packages/nvidia/cudnn/lib. Extra arguments go to the server (--urls, --DfbNet:Key=value).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export LD_LIBRARY_PATH="${CUDA_LIB_DIRS:+$CUDA_LIB_DIRS:}$here/server${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$here/server/dfbnet-server" --DfbNet:ModelRoot="$here/models" "$@"
