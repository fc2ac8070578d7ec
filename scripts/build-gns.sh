#!/usr/bin/env bash
# Build Valve's GameNetworkingSockets from its public source (v1.6.0) as a Release library for
# the benchmarks: bash scripts/build-gns.sh /path/to/GameNetworkingSockets
# (a checkout of github.com/ValveSoftware/GameNetworkingSockets). Installs cmake, ninja,
# protobuf and OpenSSL from Debian if missing, builds with WebRTC off, and prints the
# GNS_ROOT to give scripts/bench-lossy.sh. Not part of CI.
set -euo pipefail
SRC=$(cd "${1:?usage: build-gns.sh GNS_SOURCE_DIR}" && pwd)
HERE=$(cd "$(dirname "$0")/.." && pwd)
OUT=$HERE/.cache/gns-release
if ! command -v cmake >/dev/null || ! command -v protoc >/dev/null || ! command -v ninja >/dev/null; then
  apt-get update -q && apt-get install -y -q cmake ninja-build libprotobuf-dev protobuf-compiler libssl-dev >&2
fi
git -C "$SRC" checkout -q v1.6.0 2>/dev/null || echo "build-gns: building $SRC as it is (no v1.6.0 tag)" >&2
mkdir -p "$OUT/build" "$OUT/lib"
cmake -S "$SRC" -B "$OUT/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DUSE_STEAMWEBRTC=OFF \
  -DBUILD_EXAMPLES=OFF -DBUILD_TESTS=OFF >&2
ninja -C "$OUT/build" GameNetworkingSockets >&2
cp "$OUT/build/bin/libGameNetworkingSockets.so" "$OUT/lib/"
echo "$OUT"
