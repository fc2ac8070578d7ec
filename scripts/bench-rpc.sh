#!/usr/bin/env bash
# RPC round trip and RPCs/s through SceneMultiplayer: ENetMultiplayerPeer next to
# SteamMultiplayerPeer, same process and run (tests/rpc_bench/bench.gd). Builds the extension
# in release mode first. Prints figures; not part of CI.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
cd "$HERE"
bash scripts/build.sh --release
GODOT_BIN=$(bash scripts/get-godot.sh | tail -n 1)
# shellcheck source=../tests/support/scratch_project.sh
source tests/support/scratch_project.sh
WORK=$(scratch_project tests/rpc_bench project.godot bench.gd rpc_node.gd)
# Godot's editor binary loads the "debug" library: measure the optimized one.
release_library "$WORK"
trap 'rm -rf "$WORK"' EXIT
"$GODOT_BIN" --headless --path "$WORK" -s res://bench.gd 2>&1 | grep -v "^Initialize\|^Godot Engine\|^$"
bash scripts/build.sh >/dev/null 2>&1  # back to the debug build the tests use
