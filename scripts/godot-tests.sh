#!/usr/bin/env bash
# Run the GDScript tests in headless Godot against the built extension.
# Fails on a failing test, a missing closing line, a script error, a Rust panic or objects
# leaked at exit (the singleton must be unregistered and freed).
# Extra arguments go to the runner, e.g. --only=test_socket_pair
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
cd "$HERE"
GODOT_BIN=$(bash scripts/get-godot.sh | tail -n 1)
LOG=$(mktemp)
# User data (user://, identity keys, this machine's local CA key) in a scratch folder, so every
# run authenticates from scratch and leaves the developer's own data alone.
XDG_DATA_HOME=$(mktemp -d)
export XDG_DATA_HOME
unset STEAMNET_RELAY STEAMNET_TRUSTED_CA_KEYS STEAMNET_IDENTITY_DIR
trap 'rm -f "$LOG"; rm -rf "$XDG_DATA_HOME"' EXIT
# The runner has its own watchdog; this outer limit catches a Godot that never gets that far.
set +e
timeout 600 "$GODOT_BIN" --headless --path . -s res://tests/run.gd -- "$@" 2>&1 | tee "$LOG"
status=${PIPESTATUS[0]}
set -e
if ! grep -Eq '^[1-9][0-9]* passed, 0 failed$' "$LOG"; then
  echo "godot-tests: the runner did not report zero failures (exit $status)" >&2
  exit 1
fi
if grep -Eq 'SCRIPT ERROR|Parse Error|panicked|\[panic|leaked at exit' "$LOG"; then
  echo "godot-tests: script errors or Rust panics in the log (see above)" >&2
  exit 1
fi
[ "$status" -eq 0 ] || { echo "godot-tests: godot exited $status" >&2; exit 1; }
# Scripts that must quit cleanly in a process of their own (regressions for crashes at exit,
# output checks). Each prints '<name>: quitting' just before it quits; anything but exit 0
# after that fails, and so does output missing the pattern in <name>.expect, if there is one.
for script in tests/quit/*.gd; do
  name=$(basename "$script" .gd)
  set +e
  timeout 120 "$GODOT_BIN" --headless --path . -s "res://$script" >"$LOG" 2>&1
  status=$?
  set -e
  expect="tests/quit/$name.expect"
  if [ "$status" -ne 0 ] || ! grep -q "^$name: quitting" "$LOG" || grep -Eq 'SCRIPT ERROR|leaked at exit' "$LOG" \
    || { [ -f "$expect" ] && ! grep -Eq -f "$expect" "$LOG"; }; then
    cat "$LOG"
    echo "godot-tests: $script did not quit cleanly (exit $status)" >&2
    exit 1
  fi
  echo "PASS  quit/$name (exit 0)"
done
# Multi-process: a GodotSteam-style game through the opt-in Steam shim, server and client.
bash tests/godotsteam_game/run.sh "$GODOT_BIN"
# Multi-process: authenticated identities, and an anonymous peer refused (zero configuration).
bash tests/auth_game/run.sh "$GODOT_BIN"
# Multi-process: a P2P chat by Steam ID, with the embedded relay and with a steamnet-relay process.
bash tests/p2p_game/run.sh "$GODOT_BIN"
# Multi-process: Godot's high-level multiplayer over ENet and over SteamMultiplayerPeer.
bash tests/multiplayer_game/run.sh "$GODOT_BIN"
