#!/usr/bin/env bash
# A headless smoke test per demo scene (the arena's full check runs in scripts/demo.sh):
#   bash tests/demo_scenes.sh GODOT_BIN
# the @rpc arena (host + second instance), the one-process chat (by address and by Steam ID), and
# the menu. Each must print its ok line, exit 0, and leave no script errors or leaks.
set -euo pipefail
GODOT_BIN=$1
cd "$(dirname "$0")/.."
# shellcheck source=support/scratch_project.sh
source tests/support/scratch_project.sh
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
ERRORS='SCRIPT ERROR|Parse Error|leaked'

run_scene() {
  local name=$1 expect=$2
  shift 2
  run_checked "$LOG" "demo scene: $name" "$expect" "$ERRORS" 120 "$GODOT_BIN" --headless --path . "$@"
}

port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
run_scene "@rpc arena (host + second instance)" "^demo rpc ok" -- --rpc --host="$port" --second-instance --check
run_scene "chat in one process" "^demo ok: both chats" res://demo/chat.tscn
run_scene "menu" "^demo menu ok" -- --menu --check
