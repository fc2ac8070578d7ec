#!/usr/bin/env bash
# Build the extension, fetch Godot if needed, and run the demo project: the menu (host, join by
# address or Steam ID, launch a second instance, the @rpc arena). Without a display it runs
# headless: a host, a second instance and three bots play a short scripted game; it prints each
# check and exits 0 only if every one passed (demo/check.gd).
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
cd "$HERE"
bash scripts/build.sh "$@"
GODOT_BIN=$(bash scripts/get-godot.sh | tail -n 1)
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  exec "$GODOT_BIN" --path .
else
  exec timeout 120 "$GODOT_BIN" --headless --path .
fi
