#!/usr/bin/env bash
# Build the extension and install it into the addon, ready for Godot to load.
#   scripts/build.sh                          debug library for this machine (what the tests use)
#   scripts/build.sh --release                release library (what release exports ship)
#   scripts/build.sh --target TRIPLE          cross-build for another platform, e.g.
#                                             x86_64-pc-windows-gnu, aarch64-unknown-linux-gnu,
#                                             universal-apple-darwin (both Mac triples + lipo)
#   scripts/build.sh --lib-only ...           the library alone, without steamnet-relay
# Writes addons/steam_networking_sockets/bin/<the file name the .gdextension lists>. Also builds
# the steamnet-relay server for this machine (target/<profile>/steamnet-relay).
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
cd "$HERE"

profile=debug
target=""
relay=(-p steamnet-relay)
while [ $# -gt 0 ]; do
  case "$1" in
    --release) profile=release ;;
    --target) target=$2; shift ;;
    --lib-only) relay=() ;;
    *) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
cargo_flags=()
[ "$profile" = release ] && cargo_flags=(--release)

if [ -z "$target" ]; then
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) target=x86_64-unknown-linux-gnu ;;
    Linux-aarch64) target=aarch64-unknown-linux-gnu ;;
    Darwin-*) target=universal-apple-darwin ;;
    MINGW*-x86_64 | MSYS*-x86_64) target=x86_64-pc-windows-msvc ;;
    *) echo "build.sh: unsupported platform $(uname -s)-$(uname -m); pass --target" >&2; exit 1 ;;
  esac
  host_build=true
else
  host_build=false
fi

# Godot's names: libsteamnet.<platform>.template_<debug|release>.<arch>.<ext>
case "$target" in
  x86_64-unknown-linux-gnu) built=libsteamnet.so; name=libsteamnet.linux.template_$profile.x86_64.so ;;
  aarch64-unknown-linux-gnu) built=libsteamnet.so; name=libsteamnet.linux.template_$profile.arm64.so ;;
  x86_64-pc-windows-*) built=steamnet.dll; name=steamnet.windows.template_$profile.x86_64.dll ;;
  universal-apple-darwin) built=libsteamnet.dylib; name=libsteamnet.macos.template_$profile.universal.dylib ;;
  *) echo "build.sh: no Godot file name for target $target" >&2; exit 1 ;;
esac

BIN=addons/steam_networking_sockets/bin
TARGET_DIR=${CARGO_TARGET_DIR:-target}
mkdir -p "$BIN"
if [ "$target" = universal-apple-darwin ]; then
  for arch in x86_64-apple-darwin aarch64-apple-darwin; do
    cargo build -p steamnet-godot --target "$arch" "${cargo_flags[@]}" >&2
  done
  lipo -create -output "$BIN/.$name.tmp" \
    "$TARGET_DIR/x86_64-apple-darwin/$profile/$built" "$TARGET_DIR/aarch64-apple-darwin/$profile/$built"
elif $host_build; then
  # The extension, and steamnet-relay (the CA/relay server: target/<profile>/steamnet-relay).
  cargo build -p steamnet-godot "${relay[@]}" "${cargo_flags[@]}" >&2
  cp "$TARGET_DIR/$profile/$built" "$BIN/.$name.tmp"
else
  cargo build -p steamnet-godot --target "$target" "${cargo_flags[@]}" >&2
  cp "$TARGET_DIR/$target/$profile/$built" "$BIN/.$name.tmp"
fi
# Rename into place, so a running Godot never maps a half-written file.
mv -f "$BIN/.$name.tmp" "$BIN/$name"

if $host_build; then
  # Register the extension without an editor import: Godot's first headless import of a project
  # that has never seen the extension crashes at exit (Godot bug 111048; README, Troubleshooting).
  # This one-line list is all Godot needs to load the library.
  mkdir -p .godot
  echo "res://addons/steam_networking_sockets/steam_networking_sockets.gdextension" > .godot/extension_list.cfg
fi
echo "build.sh: installed $BIN/$name ($profile, $target)" >&2
