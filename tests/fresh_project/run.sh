#!/usr/bin/env bash
# A user's fresh project with the addon copied in: import, run the game, export it with the
# release template, run the exported game. Every step must exit 0 and print no script errors or
# panics.
#   bash tests/fresh_project/run.sh GODOT_BIN
# The first headless import follows README's install steps: scratch_project seeds
# .godot/extension_list.cfg (see Troubleshooting: Godot 4.6 crashes at exit when a headless editor
# run discovers an extension).
set -euo pipefail
GODOT_BIN=$1
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../support/scratch_project.sh
source "$ROOT/tests/support/scratch_project.sh"
TEMPLATE=$(bash "$ROOT/scripts/get-godot.sh" --template-release | tail -n 1)
BIN=$ROOT/addons/steam_networking_sockets/bin
[ -f "$BIN/libsteamnet.linux.template_release.x86_64.so" ] || bash "$ROOT/scripts/build.sh" --release --lib-only
[ -f "$BIN/libsteamnet.linux.template_debug.x86_64.so" ] || bash "$ROOT/scripts/build.sh" --lib-only

WORK=$(scratch_project "$HERE" project.godot main.tscn main.gd)
trap 'rm -rf "$WORK"' EXIT
sed "s|@TEMPLATE@|$TEMPLATE|" "$HERE/export_presets.cfg.in" > "$WORK/export_presets.cfg"
LOG=$WORK/step.log
ERRORS='SCRIPT ERROR|Parse Error|panicked'

run_checked "$LOG" "fresh project: first import" "" "$ERRORS" 300 "$GODOT_BIN" --headless --path "$WORK" --import
run_checked "$LOG" "fresh project: run the game" "^fresh game: ok" "$ERRORS" 300 "$GODOT_BIN" --headless --path "$WORK"
mkdir -p "$WORK/build"
run_checked "$LOG" "fresh project: export with the release template" "" "$ERRORS" 300 \
  "$GODOT_BIN" --headless --path "$WORK" --export-release Linux "$WORK/build/game.x86_64"
[ -f "$WORK/build/libsteamnet.linux.template_release.x86_64.so" ] || {
  ls -la "$WORK/build" >&2
  echo "fresh project: the export has no release library" >&2
  exit 1
}
run_checked "$LOG" "fresh project: run the exported game" "^fresh game: ok" "$ERRORS" 300 "$WORK/build/game.x86_64" --headless
