#!/usr/bin/env bash
# Build Valve's GameNetworkingSockets from its public source (v1.6.0) as a Release library for
# the benchmarks: bash scripts/build-gns.sh /path/to/GameNetworkingSockets
# (a checkout of github.com/ValveSoftware/GameNetworkingSockets). Builds with WebRTC off and
# prints the GNS_ROOT to give scripts/bench-loopback.sh or scripts/bench-lossy.sh. Not part
# of CI.
#
# Build tools: cmake, ninja, protobuf and OpenSSL from Debian if missing. Where apt cannot
# install them (not Debian, or a system whose apt is broken), cmake and ninja come from PyPI
# and protobuf 21.5 (the last without an Abseil dependency) from its source as the
# protobuf-src crate carries it on crates.io, built once into .cache/gns-release/tools.
# OpenSSL's headers must be there either way.
set -euo pipefail
SRC=$(cd "${1:?usage: build-gns.sh GNS_SOURCE_DIR}" && pwd)
HERE=$(cd "$(dirname "$0")/.." && pwd)
OUT=$HERE/.cache/gns-release
TOOLS=$OUT/tools
PROTOBUF_SRC_CRATE=1.1.0
declare -a protobuf_args=()

# cmake and ninja from PyPI, protobuf built from the crates.io source, all under $TOOLS.
tools_from_registries() {
  echo "build-gns: cmake, ninja and protobuf from PyPI and crates.io, under $TOOLS" >&2
  [ -x "$TOOLS/venv/bin/cmake" ] || {
    python3 -m venv "$TOOLS/venv"
    "$TOOLS/venv/bin/pip" install -q cmake ninja >&2
  }
  export PATH=$TOOLS/venv/bin:$PATH
  if [ ! -x "$TOOLS/protobuf/bin/protoc" ]; then
    local fetch=$TOOLS/fetch-protobuf
    mkdir -p "$fetch/src"
    # (an empty [workspace]: not a member of steamnet's, which it sits inside)
    printf '[package]\nname = "fetch-protobuf"\nversion = "0.0.0"\nedition = "2021"\n[workspace]\n[dependencies]\nprotobuf-src = "=%s"\n' \
      "$PROTOBUF_SRC_CRATE" > "$fetch/Cargo.toml"
    echo 'fn main() {}' > "$fetch/src/main.rs"
    cargo fetch -q --manifest-path "$fetch/Cargo.toml" >&2
    local crate
    crate=$(cargo metadata -q --format-version 1 --manifest-path "$fetch/Cargo.toml" |
      python3 -c 'import json,sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"] == "protobuf-src"))')
    # Static and position-independent, so it links into GNS's shared library.
    cmake -S "$(dirname "$crate")/protobuf" -B "$TOOLS/protobuf-build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -Dprotobuf_BUILD_TESTS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DCMAKE_POLICY_VERSION_MINIMUM=3.5 \
      -DCMAKE_INSTALL_PREFIX="$TOOLS/protobuf" >&2
    ninja -C "$TOOLS/protobuf-build" install >&2
  fi
  protobuf_args=(-DCMAKE_PREFIX_PATH="$TOOLS/protobuf" -DProtobuf_USE_STATIC_LIBS=ON)
}

if [ -x "$TOOLS/protobuf/bin/protoc" ]; then
  tools_from_registries
elif ! command -v cmake >/dev/null || ! command -v protoc >/dev/null || ! command -v ninja >/dev/null; then
  { apt-get update -q && apt-get install -y -q cmake ninja-build libprotobuf-dev protobuf-compiler libssl-dev; } >&2 || {
    echo "build-gns: apt cannot install the build tools" >&2
    tools_from_registries
  }
fi
[ -e /usr/include/openssl/evp.h ] || echo "build-gns: OpenSSL's headers (libssl-dev) are missing" >&2
git -C "$SRC" checkout -q v1.6.0 2>/dev/null || echo "build-gns: building $SRC as it is (no v1.6.0 tag)" >&2
mkdir -p "$OUT/build" "$OUT/lib"
# CMAKE_POLICY_VERSION_MINIMUM: cmake 4 refuses projects that ask for compatibility below 3.5.
cmake -S "$SRC" -B "$OUT/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DUSE_STEAMWEBRTC=OFF \
  -DBUILD_EXAMPLES=OFF -DBUILD_TESTS=OFF -DCMAKE_POLICY_VERSION_MINIMUM=3.5 "${protobuf_args[@]}" >&2
ninja -C "$OUT/build" GameNetworkingSockets >&2
cp "$OUT/build/bin/libGameNetworkingSockets.so" "$OUT/lib/"
echo "$OUT"
