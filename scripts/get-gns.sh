#!/usr/bin/env bash
# Obtain Valve's GameNetworkingSockets (Debian sid's libgamenetworkingsockets 1.6.1) for the
# side-by-side benchmarks, the way get-godot.sh obtains Godot: a private apt configuration with
# an empty dpkg status downloads the library and its dependency closure, `dpkg -x` unpacks it
# into .cache/gns/root, and nothing is installed system-wide. Benchmarks run through that
# folder's own loader (sid's libraries are newer than bookworm's).
#
# Prints two lines: the loader, then the library search path. GNS_ROOT=/path (a folder with
# lib/libGameNetworkingSockets.so, e.g. a Release build from source) skips the download; then
# the system loader is used.
# Note: Debian's build uses libstdc++'s debug-mode containers; build GNS from Valve's source
# (v1.6.0, CMake Release) for figures you publish, and point GNS_ROOT at it.
set -euo pipefail
if [ -n "${GNS_ROOT:-}" ]; then
  echo "system"
  echo "$GNS_ROOT/lib"
  exit 0
fi
HERE=$(cd "$(dirname "$0")/.." && pwd)
CACHE=$HERE/.cache/gns
ROOT=$CACHE/root
LIB=$ROOT/usr/lib/x86_64-linux-gnu
if [ ! -e "$LIB/libGameNetworkingSockets.so.1debian1" ]; then
  APT=$CACHE/apt
  mkdir -p "$ROOT"
  # shellcheck source=lib/sid-apt.sh
  source "$HERE/scripts/lib/sid-apt.sh"
  sid_apt_setup "$APT"
  echo "get-gns: downloading libgamenetworkingsockets and its closure from Debian sid" >&2
  apt-get -q update >&2
  apt-get -q -y --download-only install libgamenetworkingsockets1debian1 >&2
  for deb in "$APT/archives"/*.deb; do dpkg -x "$deb" "$ROOT"; done
fi
LOADER=$LIB/ld-linux-x86-64.so.2
[ -e "$LOADER" ] || LOADER=$ROOT/lib64/ld-linux-x86-64.so.2
echo "$LOADER"
echo "$LIB"
