#!/usr/bin/env bash
# Run every test: the generated API tables are current, the Rust unit and property tests, then
# the GDScript suites inside headless Godot 4 against the freshly built extension.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
cd "$HERE"
if [ -f ../shared/api/networking_sockets.json ]; then
  python3 scripts/gen_api_tables.py --check
fi
cargo test --workspace
bash scripts/build.sh
bash scripts/godot-tests.sh
