#!/usr/bin/env bash
# Fast-under-loss benchmark: steamnet and Valve's GameNetworkingSockets side by side through
# the same lossy, laggy proxy (rust/net/benches/lossy.rs). Fetches Debian sid's GNS 1.6.1 with
# scripts/get-gns.sh (or uses GNS_ROOT, e.g. a Release build from source) and runs the benchmark
# through that library's loader. Not part of CI: it takes minutes and prints figures.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
cd "$HERE"
mapfile -t GNS < <(bash scripts/get-gns.sh | tail -n 2)
LOADER=${GNS[0]}
LIBDIR=${GNS[1]}
BIN=$(cargo bench -p steamnet-net --bench lossy --no-run 2>&1 | sed -n 's/.*(\(.*deps\/lossy-[0-9a-f]*\)).*/\1/p' | tail -n 1)
[ -x "$BIN" ] || { echo "bench-lossy: benchmark binary not found" >&2; exit 1; }
LIB=$(ls "$LIBDIR"/libGameNetworkingSockets.so* | head -n 1)
if [ "$LOADER" = system ]; then
  GNS_LIB=$LIB LD_LIBRARY_PATH=$LIBDIR "$BIN"
else
  GNS_LIB=$LIB exec "$LOADER" --library-path "$LIBDIR" "$BIN"
fi
