#!/usr/bin/env bash
# Run every test: the generated API tables are current, the workflow files lint clean, the Rust
# unit, property and loopback tests, the GDScript suites inside headless Godot 4 against the
# freshly built extension, the class reference is complete, a fresh user project imports, runs and
# exports, and the demo scene played headless as a smoke test.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
cd "$HERE"
if [ -f ../shared/api/networking_sockets.json ]; then
  python3 scripts/gen_api_tables.py --check
fi
bash scripts/lint-workflows.sh
# The relay cluster tests start a real redis-server (Debian's package) on a free loopback port.
REDIS_DIR=$(bash scripts/get-redis.sh | tail -n 1)
export PATH="$REDIS_DIR:$PATH"
cargo test --workspace
bash scripts/build.sh
bash scripts/godot-tests.sh
GODOT_BIN=$(bash scripts/get-godot.sh | tail -n 1)
bash tests/docs/check.sh "$GODOT_BIN"
# A user's project: needs the release library (a release build, several minutes) and Debian's
# release export template.
bash scripts/build.sh --release --lib-only
bash tests/fresh_project/run.sh "$GODOT_BIN"
DEMO_LOG=$(mktemp)
trap 'rm -f "$DEMO_LOG"' EXIT
DISPLAY= WAYLAND_DISPLAY= bash scripts/demo.sh 2>&1 | tee "$DEMO_LOG"
grep -q '^demo ok: every check passed' "$DEMO_LOG" || { echo "test.sh: the demo's checks did not all pass" >&2; exit 1; }
if grep -Eq 'SCRIPT ERROR|Parse Error|leaked' "$DEMO_LOG"; then
  echo "test.sh: script errors or leaks in the demo (see above)" >&2
  exit 1
fi
bash tests/demo_scenes.sh "$GODOT_BIN"
