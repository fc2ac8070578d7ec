#!/usr/bin/env bash
# Two separate Godot processes play tests/godotsteam_game (GodotSteam names only, through the
# shim) over UDP on 127.0.0.1. Usage: run.sh GODOT_BIN. Exits 0 when both report ok.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../support/scratch_project.sh
source "$HERE/../support/scratch_project.sh"
scratch_run "$1" "$HERE" project.godot game.gd game.tscn
timeout 60 "$GODOT_BIN" --headless --path "$WORK" -- --server > "$WORK/server.log" 2>&1 &
server=$!
port=$(wait_for_line "$WORK/server.log" 's/^godotsteam_game: listening on 127.0.0.1:\([0-9]*\)$/\1/p')
set +e
timeout 60 "$GODOT_BIN" --headless --path "$WORK" -- --client="$port" > "$WORK/client.log" 2>&1
client_status=$?
wait $server
server_status=$?
set -e
cat "$WORK/server.log" "$WORK/client.log" | grep -E "godotsteam_game|ERROR|SCRIPT ERROR" || true
if [ $client_status -ne 0 ] || [ $server_status -ne 0 ] \
  || ! grep -q "^godotsteam_game: client ok" "$WORK/client.log" \
  || ! grep -q "^godotsteam_game: server ok" "$WORK/server.log" \
  || grep -q "SCRIPT ERROR" "$WORK/server.log" "$WORK/client.log"; then
  echo "godotsteam_game: failed (client $client_status, server $server_status)" >&2
  exit 1
fi
echo "PASS  godotsteam_game (two processes, GodotSteam names through the Steam shim)"
