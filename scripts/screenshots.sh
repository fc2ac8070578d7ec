#!/usr/bin/env bash
# README's screenshots, from real windows under Xvfb (software OpenGL, Mesa's llvmpipe): the demo's
# arena with its network panel open (a host, a second instance and bots), SteamNetworkingSockets'
# class reference in the editor, and Debugger > Monitors while the demo runs from the editor's
# Run button.
#   bash scripts/screenshots.sh [OUT_DIR]     default docs/screenshots
# The editor work is done by a throwaway plugin (scripts/screenshots/capture.gd) in a scratch
# copy of the demo project. Exits 1 if either picture is missing.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
cd "$HERE"
OUT=$(realpath -m "${1:-docs/screenshots}")
GODOT_BIN=$(bash scripts/get-godot.sh | tail -n 1)
if ! command -v Xvfb >/dev/null; then
  apt-get install -y -qq xvfb >&2   # brings Mesa's software OpenGL with it
fi
bash scripts/build.sh --lib-only

# shellcheck source=../tests/support/scratch_project.sh
source tests/support/scratch_project.sh
WORK=$(mktemp -d)
PROJECT=$(scratch_project "$HERE" project.godot demo)
XVFB_PID=""
trap '[ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null; rm -rf "$WORK" "$PROJECT"' EXIT
mkdir -p "$OUT"
cp -r scripts/screenshots "$PROJECT/addons/steamnet_screenshots"
printf '\n[editor_plugins]\n\nenabled=PackedStringArray("res://addons/steamnet_screenshots/plugin.cfg")\n' >> "$PROJECT/project.godot"
"$GODOT_BIN" --headless --path "$PROJECT" --import > "$WORK/import.log" 2>&1 || { cat "$WORK/import.log" >&2; exit 1; }

# A free X display.
display=90
while [ -e "/tmp/.X$display-lock" ]; do display=$((display + 1)); done
Xvfb ":$display" -screen 0 1600x900x24 >/dev/null 2>&1 &
XVFB_PID=$!
for _ in $(seq 1 50); do [ -e "/tmp/.X11-unix/X$display" ] && break; sleep 0.1; done

# Godot's own libraries come first on its run path (get-godot.sh); point GLVND at the system's
# Mesa by a vendor name of our own, which only this folder provides.
mkdir -p "$WORK/gl"
ln -s /usr/lib/x86_64-linux-gnu/libGLX_mesa.so.0 "$WORK/gl/libGLX_system.so.0"
rm -f "$OUT/class_reference.png" "$OUT/monitors.png" "$OUT/arena.png"
export DISPLAY=":$display" LD_LIBRARY_PATH="$WORK/gl" __GLX_VENDOR_LIBRARY_NAME=system
port=27041
timeout 60 "$GODOT_BIN" --rendering-driver opengl3 --audio-driver Dummy --path "$HERE" --resolution 1280x720 \
  -- --host=$port --bots=4 --second-instance --screenshot="$OUT/arena.png" > "$WORK/arena.log" 2>&1 || true
pkill -f -- "--join=127.0.0.1:$port" || true
grep '^screenshots:' "$WORK/arena.log" || true
STEAMNET_SCREENSHOTS_DIR="$OUT" timeout 180 "$GODOT_BIN" --rendering-driver opengl3 --audio-driver Dummy --editor --windowed \
  --resolution 1600x900 --position 0,0 --path "$PROJECT" > "$WORK/editor.log" 2>&1 || true
grep '^screenshots:' "$WORK/editor.log" || true
for picture in arena class_reference monitors; do
  [ -s "$OUT/$picture.png" ] || { tail -40 "$WORK/editor.log" >&2; echo "screenshots: no $picture.png" >&2; exit 1; }
done
echo "screenshots: wrote arena.png, class_reference.png and monitors.png in $OUT"
