#!/usr/bin/env bash
# The GDScript path: messages/s and round trips through the SteamNetworkingSockets singleton next
# to Godot's ENetConnection, same process and run (tests/sockets_bench/bench.gd), with the
# optimized extension. Prints figures; not part of CI.
set -euo pipefail
# shellcheck source=lib/godot-bench.sh
source "$(dirname "$0")/lib/godot-bench.sh"
godot_bench tests/sockets_bench project.godot bench.gd
