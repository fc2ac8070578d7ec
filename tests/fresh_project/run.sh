#!/usr/bin/env bash
# A user's fresh project with the addon copied in: import, run the game, export it with the
# release template, run the exported game. Every step must exit 0.
#   bash tests/fresh_project/run.sh GODOT_BIN
# The first headless import follows README's install steps (seed .godot/extension_list.cfg; see
# Troubleshooting: Godot 4.6 crashes at exit when a headless editor run discovers an extension).
set -euo pipefail
GODOT_BIN=$1
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TEMPLATE=$(bash "$ROOT/scripts/get-godot.sh" --template-release | tail -n 1)
BIN=$ROOT/addons/steam_networking_sockets/bin
[ -f "$BIN/libsteamnet.linux.template_release.x86_64.so" ] || bash "$ROOT/scripts/build.sh" --release --lib-only
[ -f "$BIN/libsteamnet.linux.template_debug.x86_64.so" ] || bash "$ROOT/scripts/build.sh" --lib-only

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cp "$HERE/project.godot" "$HERE/main.tscn" "$HERE/main.gd" "$WORK/"
sed "s|@TEMPLATE@|$TEMPLATE|" "$HERE/export_presets.cfg.in" > "$WORK/export_presets.cfg"
mkdir -p "$WORK/addons"
cp -r "$ROOT/addons/steam_networking_sockets" "$WORK/addons/"
LOG=$WORK/step.log

step() {
  local name=$1
  shift
  local status=0
  timeout 300 "$@" >"$LOG" 2>&1 || status=$?
  if [ "$status" -ne 0 ]; then
    cat "$LOG" >&2
    echo "fresh project: '$name' failed (exit $status)" >&2
    exit 1
  fi
  if grep -Eq 'SCRIPT ERROR|Parse Error|panicked' "$LOG"; then
    cat "$LOG" >&2
    echo "fresh project: '$name' printed errors" >&2
    exit 1
  fi
  echo "PASS  fresh project: $name (exit 0)"
}

mkdir -p "$WORK/.godot"
echo "res://addons/steam_networking_sockets/steam_networking_sockets.gdextension" > "$WORK/.godot/extension_list.cfg"
step "first import" "$GODOT_BIN" --headless --path "$WORK" --import
step "run the game" "$GODOT_BIN" --headless --path "$WORK"
grep -q "^fresh game: ok" "$LOG" || { cat "$LOG" >&2; exit 1; }
mkdir -p "$WORK/build"
step "export with the release template" "$GODOT_BIN" --headless --path "$WORK" --export-release Linux "$WORK/build/game.x86_64"
[ -f "$WORK/build/libsteamnet.linux.template_release.x86_64.so" ] || {
  ls -la "$WORK/build" >&2
  echo "fresh project: the export has no release library" >&2
  exit 1
}
step "run the exported game" "$WORK/build/game.x86_64" --headless
grep -q "^fresh game: ok" "$LOG" || { cat "$LOG" >&2; exit 1; }
