#!/usr/bin/env bash
# Build the extension, fetch Godot if needed, and run the demo project. Without a display it runs
# headless: the demo plays a scripted chat, prints it and exits 0 if every message made the trip.
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
