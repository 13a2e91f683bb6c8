#!/usr/bin/env bash
# What concurrent decodes of pixel-limit images cost a running server in memory (not a test: it needs a started
# server, and its figures are the machine's). STREAMS clients (`dfbnet stream`, one process each) send FRAMES
# SIDE x SIDE PNGs each, all at once; a PNG of one colour is a few KB on the wire and 64 MiB decoded at 4096x4096.
# The server's VmRSS is read from /proc/PID/status before, every 50 ms while the clients run (the peak), and a few
# seconds after; VmHWM is the process's peak since it started.
#
#   dotnet src/DfbNet.Server/bin/Release/net10.0/linux-x64/dfbnet-server.dll --DfbNet:ExecutionProviders=cpu &
#   scripts/decode-memory.sh $! http://localhost:50051 32 4
#
# Compare DfbNet:DecodeMemoryBytes settings by restarting the server with --DfbNet:DecodeMemoryBytes=N.
# Environment: DFBNET (the CLI; default the Release build), SIDE (default 4096), SETTLE_SECONDS (default 3).
set -euo pipefail

pid=${1:?usage: $0 SERVER_PID [ADDRESS] [STREAMS] [FRAMES]}
address=${2:-http://localhost:50051}
streams=${3:-32}
frames=${4:-4}
side=${SIDE:-4096}
settle=${SETTLE_SECONDS:-3}
dfbnet=${DFBNET:-$(dirname "$0")/../src/DfbNet.Cli/bin/Release/net10.0/linux-x64/dfbnet}
[ -r "/proc/$pid/status" ] || { echo "decode-memory: no process $pid on this machine (/proc/$pid/status)" >&2; exit 2; }
[ -x "$dfbnet" ] || { echo "decode-memory: no dfbnet CLI at $dfbnet (build src/DfbNet.Cli -c Release, or set DFBNET)" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/frames"

# PNGs of one colour each (RGB, 8 bits), written with the standard library alone.
python3 - "$work/frames" "$side" "$frames" <<'PY'
import struct, sys, zlib
folder, side, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
for i in range(count):
    row = b'\x00' + bytes(((37 * i) % 256, 128, 200)) * side
    header = struct.pack('>IIBBBBB', side, side, 8, 2, 0, 0, 0)
    png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) + chunk(b'IDAT', zlib.compress(row * side, 9)) + chunk(b'IEND', b'')
    with open(f'{folder}/frame-{i:03}.png', 'wb') as f:
        f.write(png)
PY

field() { awk -v key="$1:" '$1 == key { print $2 }' "/proc/$pid/status"; }
mib() { awk -v kb="$1" 'BEGIN { printf "%.0f MiB", kb / 1024 }'; }

before=$(field VmRSS)
peak=$before
clients=()
for s in $(seq 1 "$streams"); do
  "$dfbnet" stream "$work/frames" --server "$address" --max-in-flight 1 --quiet >"$work/stream-$s.log" 2>&1 &
  clients+=("$!")
done

running() { for c in "${clients[@]}"; do kill -0 "$c" 2>/dev/null && return 0; done; return 1; }
while running; do
  rss=$(field VmRSS)
  [ "$rss" -gt "$peak" ] && peak=$rss
  sleep 0.05
done

failed=0
for c in "${clients[@]}"; do wait "$c" || failed=$((failed + 1)); done
sleep "$settle"
after=$(field VmRSS)
bytes=$(stat -c %s "$work/frames/frame-000.png")

echo "decode-memory: $(date -u +%FT%TZ) $(nproc) cores, server $pid at $address"
echo "  frames:  $streams streams x $frames PNGs of ${side}x${side} ($bytes bytes each, $(mib $((side * side * 4 / 1024))) decoded)"
echo "  VmRSS:   before $(mib "$before"), peak $(mib "$peak") (sampled every 50 ms), after $(mib "$after") (${settle} s later)"
echo "  VmHWM:   $(mib "$(field VmHWM)") (the server's peak since it started)"
# Each client's summary: "frames: R read, S sent, A answered, D dropped (N not sent ..., E ended with ERROR)".
cat "$work"/stream-*.log | awk -v total=$((streams * frames)) '
  /^frames:/ { answered += $6; errors += $(NF - 3) + 0 }
  END { printf "  answers: %d of %d frames answered, %d ended with ERROR\n", answered, total, errors }'
if [ "$failed" -gt 0 ]; then
  echo "  $failed of $streams clients failed; the first one's output:"
  for s in $(seq 1 "$streams"); do
    if grep -q -i "error\|fail" "$work/stream-$s.log"; then sed 's/^/    /' "$work/stream-$s.log"; break; fi
  done
  exit 1
fi
