#!/usr/bin/env bash
# Run every test: the generated API tables are current, the Rust unit, property and loopback
# tests, the GDScript suites inside headless Godot 4 against the freshly built extension, and
# the demo scene played headless as a smoke test.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
cd "$HERE"
if [ -f ../shared/api/networking_sockets.json ]; then
  python3 scripts/gen_api_tables.py --check
fi
cargo test --workspace
bash scripts/build.sh
bash scripts/godot-tests.sh
DEMO_LOG=$(mktemp)
trap 'rm -f "$DEMO_LOG"' EXIT
DISPLAY= WAYLAND_DISPLAY= bash scripts/demo.sh 2>&1 | tee "$DEMO_LOG"
grep -q '^demo ok: both chats' "$DEMO_LOG" || { echo "test.sh: the demo did not finish its chat" >&2; exit 1; }
