#!/usr/bin/env bash
# RPC round trip and RPCs/s through SceneMultiplayer: ENetMultiplayerPeer next to
# SteamMultiplayerPeer, same process and run (tests/rpc_bench/bench.gd). Builds the extension
# in release mode first. Prints figures; not part of CI.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
cd "$HERE"
bash scripts/build.sh --release
GODOT_BIN=$(bash scripts/get-godot.sh | tail -n 1)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cp tests/rpc_bench/{project.godot,bench.gd,rpc_node.gd} "$WORK/"
mkdir -p "$WORK/addons" "$WORK/.godot"
cp -r addons/steam_networking_sockets "$WORK/addons/"
echo "res://addons/steam_networking_sockets/steam_networking_sockets.gdextension" > "$WORK/.godot/extension_list.cfg"
"$GODOT_BIN" --headless --path "$WORK" -s res://bench.gd 2>&1 | grep -v "^Initialize\|^Godot Engine\|^$"
bash scripts/build.sh >/dev/null 2>&1  # back to the debug build the tests use
