#!/usr/bin/env bash
# RPC round trip and RPCs/s through SceneMultiplayer: ENetMultiplayerPeer next to
# SteamMultiplayerPeer, same process and run (tests/rpc_bench/bench.gd), with the optimized
# extension. Prints figures; not part of CI.
set -euo pipefail
# shellcheck source=lib/godot-bench.sh
source "$(dirname "$0")/lib/godot-bench.sh"
godot_bench tests/rpc_bench project.godot bench.gd rpc_node.gd
