#!/usr/bin/env bash
# Build the extension and install it into the addon, ready for Godot to load.
#   scripts/build.sh            debug build (what the tests use)
#   scripts/build.sh --release  optimised build
# Also builds the steamnet-relay server binary beside it (target/<profile>/steamnet-relay).
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
cd "$HERE"

profile=debug
cargo_flags=()
if [ "${1:-}" = "--release" ]; then
  profile=release
  cargo_flags=(--release)
fi

# The extension, and steamnet-relay (the CA/relay server: target/<profile>/steamnet-relay).
cargo build -p steamnet-godot -p steamnet-relay "${cargo_flags[@]}" >&2

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) src=libsteamnet.so; dst=libsteamnet.linux.x86_64.so ;;
  Linux-aarch64) src=libsteamnet.so; dst=libsteamnet.linux.arm64.so ;;
  Darwin-*) src=libsteamnet.dylib; dst=libsteamnet.macos.dylib ;;
  *) echo "build.sh: unsupported platform $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac

BIN=addons/steam_networking_sockets/bin
mkdir -p "$BIN"
# Copy to a temporary name and rename, so a running Godot never maps a half-written file.
cp "target/$profile/$src" "$BIN/.$dst.tmp"
mv -f "$BIN/.$dst.tmp" "$BIN/$dst"

# Register the extension without an editor import. On a fresh checkout `godot --import` segfaults
# at exit once any gdext class is loaded; Godot only needs this one-line list to load the library.
mkdir -p .godot
echo "res://addons/steam_networking_sockets/steam_networking_sockets.gdextension" > .godot/extension_list.cfg
echo "build.sh: installed $BIN/$dst ($profile)" >&2
