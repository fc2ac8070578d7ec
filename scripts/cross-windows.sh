#!/usr/bin/env bash
# Cross-build the Windows x86_64 library on Debian, from the registries only:
#   bash scripts/cross-windows.sh [--release]
# -> addons/steam_networking_sockets/bin/steamnet.windows.template_<debug|release>.x86_64.dll
#
# rustup cannot fetch another target's standard library here, so it is built from source
# (`-Z build-std`, hence the nightly toolchain) with the source of Debian sid's `rust-src`
# package, and linked with bookworm's MinGW-w64 (`gcc-mingw-w64-x86-64`). The release workflow
# (.github/workflows/release.yml) builds the shipped Windows library natively with MSVC instead.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
cd "$HERE"
log() { echo "cross-windows: $*" >&2; }

command -v x86_64-w64-mingw32-gcc >/dev/null || apt-get install -y -qq gcc-mingw-w64-x86-64 >&2
rustup toolchain list | grep -q '^nightly' || { log "needs a nightly toolchain (rustup toolchain install nightly)"; exit 1; }
SYSROOT=$(rustc +nightly --print sysroot)
if [ ! -d "$SYSROOT/lib/rustlib/src/rust/library/std" ]; then
  SRC=$HERE/.cache/rust-src
  if [ ! -d "$SRC/usr/lib/rustlib/src/rust/library/std" ]; then
    # shellcheck source=lib/sid-apt.sh
    source "$HERE/scripts/lib/sid-apt.sh"
    sid_apt_setup "$HERE/.cache/godot/apt"
    mkdir -p "$SRC"
    (cd "$SRC" && apt-get -q update >&2 && apt-get -q download rust-src >&2 && dpkg -x rust-src_*.deb .)
  fi
  log "standard library source: $(ls "$SRC"/rust-src_*.deb) (nightly is $(rustc +nightly --version))"
  ln -sfn "$SRC/usr/lib/rustlib/src" "$SYSROOT/lib/rustlib/src"
fi

export RUSTUP_TOOLCHAIN=nightly
export CARGO_UNSTABLE_BUILD_STD=std,panic_unwind
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
export CARGO_TARGET_DIR=$HERE/target/cross-windows
bash scripts/build.sh --lib-only --target x86_64-pc-windows-gnu "$@"
