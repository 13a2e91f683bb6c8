#!/usr/bin/env bash
# Soak: the built server with the bundled model under a mixed load with bad inputs for DURATION seconds (default 600).
# Two open-loop `dfbnet load` runs at once against it: the native API (8 streams, budgets cycled 0, 20 and 50 ms) and
# the Open Inference Protocol (8 streams), RATE frames/s each (default 100), with BAD_SHARE (default 0.05) of the
# frames replaced by bad inputs (a JPEG cut short, bytes that are no image, an empty image, a raw frame of the wrong
# size, a PNG at the pixel limit). Each run reports its errors by kind, its counts check (every frame sent ends with one
# final event) and the server's RSS at the start, the end and its peak. The server is then stopped with SIGTERM (its
# drain) and must exit 0. Results: OUT (default soak-results/) holds native.json, oip.json, the tables and the log.
# Usage: scripts/soak.sh [DURATION_SECONDS]     Environment: RATE, BAD_SHARE, PORT (default 50071), OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-600}
rate=${RATE:-100}
bad=${BAD_SHARE:-0.05}
port=${PORT:-50071}
out=${OUT:-soak-results}
server_dll=src/DfbNet.Server/bin/Release/net10.0/linux-x64/dfbnet-server.dll
cli_dll=src/DfbNet.Cli/bin/Release/net10.0/linux-x64/dfbnet.dll
for f in "$server_dll" "$cli_dll"; do
  [ -f "$f" ] || { echo "soak: $f is not built (dotnet build DfbNet.sln -c Release)" >&2; exit 2; }
done
mkdir -p "$out"
address="http://127.0.0.1:$port"

dotnet "$server_dll" --urls "$address" --DfbNet:ExecutionProviders=cpu --Logging:LogLevel:Default=Warning >"$out/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  dotnet "$cli_dll" models list --server "$address" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { echo "soak: the server exited: $(tail -3 "$out/server.log")" >&2; exit 1; }
  sleep 0.5
done

echo "soak: $duration s at 2 x $rate frames/s (native and OIP, 8 streams each), bad share $bad, server pid $server"
common=(--server "$address" --streams 8 --rate "$rate" --duration "$duration" --warmup 5 --drain-seconds 10 --bad-share "$bad" --server-pid "$server")
dotnet "$cli_dll" load "${common[@]}" --protocol native --budget-ms 0,20,50 --json "$out/native.json" >"$out/native.txt" 2>"$out/native.progress" &
native=$!
dotnet "$cli_dll" load "${common[@]}" --protocol oip --seed 2 --json "$out/oip.json" >"$out/oip.txt" 2>"$out/oip.progress" &
oip=$!
status=0
wait "$native" || status=$?
wait "$oip" || status=$?

kill -TERM "$server"
wait "$server" && stopped=0 || stopped=$?
trap - EXIT
echo "== native"; cat "$out/native.txt"
echo "== oip"; cat "$out/oip.txt"
echo "soak: load runs exited $status, the server exited $stopped after SIGTERM"
[ "$status" = 0 ] && [ "$stopped" = 0 ]
