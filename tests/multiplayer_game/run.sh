#!/usr/bin/env bash
# Godot's high-level multiplayer in separate headless processes, once over ENetMultiplayerPeer and
# once over SteamMultiplayerPeer, with two and with three processes; the observations must be
# the expected ones and the same for both peers. Usage: run.sh GODOT_BIN
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../support/scratch_project.sh
source "$HERE/../support/scratch_project.sh"
scratch_run "$1" "$HERE" project.godot game.gd game.tscn

free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# scenario PEER CLIENTS: prints the sorted result lines of all processes.
scenario() {
  local peer=$1 clients=$2 port dead logs=()
  port=$(free_port)
  dead=$(free_port)
  timeout 60 "$GODOT_BIN" --headless --path "$WORK" -- --server --port="$port" --clients="$clients" --rejoins=1 --peer="$peer" \
    > "$WORK/$peer-$clients-server.log" 2>&1 &
  local pids=($!)
  for _ in $(seq 1 100); do grep -q "multiplayer_game: listening" "$WORK/$peer-$clients-server.log" && break; sleep 0.1; done
  for c in $(seq 1 "$clients"); do
    local extra=""
    [ "$c" = 1 ] && extra="--rejoin"
    timeout 60 "$GODOT_BIN" --headless --path "$WORK" -- --client --port="$port" --dead-port="$dead" --players="$clients" \
      --peer="$peer" $extra > "$WORK/$peer-$clients-client$c.log" 2>&1 &
    pids+=($!)
  done
  local status=0
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
  grep -h "^multiplayer_game: .* result" "$WORK/$peer-$clients"-*.log | sort
  if [ $status -ne 0 ] || grep -q "SCRIPT ERROR" "$WORK/$peer-$clients"-*.log; then
    grep -h "SCRIPT ERROR\|ERROR\|problem" "$WORK/$peer-$clients"-*.log | head -20 >&2
    echo "multiplayer_game: $peer with $clients clients failed" >&2
    return 1
  fi
}

for clients in 1 2; do
  enet=$(scenario enet "$clients")
  steam=$(scenario steam "$clients")
  echo "$steam"
  expected_server="\"connects\":$((clients + 1)),\"disconnects\":1,\"players_spawned\":$clients,\"ready\":$((clients + 1))"
  if ! grep -q "server result {$expected_server}" <<<"$steam"; then
    echo "multiplayer_game: the steamnet server did not observe {$expected_server}" >&2
    exit 1
  fi
  if ! grep -q '"echoes":\["reliable","unreliable","unreliable_ordered"\]' <<<"$steam" \
    || ! grep -q '"server_disconnected":true' <<<"$steam" || ! grep -q '"connection_failed":true' <<<"$steam"; then
    echo "multiplayer_game: a steamnet client missed an observation" >&2
    exit 1
  fi
  if [ "$enet" != "$steam" ]; then
    echo "multiplayer_game: ENet and steamnet observed different things with $clients clients:" >&2
    diff <(echo "$enet") <(echo "$steam") >&2 || true
    exit 1
  fi
  echo "PASS  multiplayer_game with $((clients + 1)) processes: same observations over ENetMultiplayerPeer and SteamMultiplayerPeer"
done
