#!/usr/bin/env bash
# A P2P chat by Steam ID between two separate Godot processes, twice:
#   1. zero configuration: the first process hosts this machine's relay on 127.0.0.1:27190;
#   2. zero configuration again, but the guest dials the host's FakeIP with connectByIPAddress
#      (beginAsyncRequestFakeIP, fake_ip_result, createListenSocketP2PFakeIP on the host);
#   3. through a `steamnet-relay` process, found with STEAMNET_RELAY and trusted with
#      STEAMNET_TRUSTED_CA_KEYS;
#   4. a hosted dedicated server behind that relay process (SDR_LISTEN_PORT, POP "tst") and a
#      client that is refused with a forged ticket, then connects with the relay's.
# Usage: run.sh GODOT_BIN. XDG_DATA_HOME points at a scratch folder (identities, local CA).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../support/scratch_project.sh
source "$HERE/../support/scratch_project.sh"
scratch_run "$1" "$HERE" project.godot game.gd game.tscn
RELAY="$HERE/../../target/debug/steamnet-relay"
[ -x "$RELAY" ] || { echo "p2p_game: build steamnet-relay first (scripts/build.sh)" >&2; exit 1; }
unset STEAMNET_RELAY STEAMNET_TRUSTED_CA_KEYS STEAMNET_IDENTITY_DIR

free_port() {
  python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

chat() { # name [fake|hosted] -> plays host and guest; logs in $WORK/<name>-{host,guest}.log
  local name=$1 mode=${2:-} host_log="$WORK/$1-host.log" guest_log="$WORK/$1-guest.log" id status_host status_guest
  local host_arg=--host guest_arg listen_port=
  [ "$mode" = fake ] && host_arg=--fake-host
  [ "$mode" = hosted ] && host_arg=--hosted-host && listen_port=$(free_port)
  SDR_LISTEN_PORT=$listen_port timeout 60 "$GODOT_BIN" --headless --path "$WORK" -- $host_arg > "$host_log" 2>&1 &
  local host=$!
  if [ "$mode" = hosted ]; then
    id=$(wait_for_line "$host_log" "s/^p2p_game: host \([0-9]*\) hosted on virtual port 0 at POP 7631732, UDP port $listen_port\$/\1/p")
    guest_arg="--hosted-guest=$id"
  elif [ "$mode" = fake ]; then
    id=$(wait_for_line "$host_log" 's/^p2p_game: host \([0-9]*\) listening on fake \([0-9.:]*\)$/\1,\2/p')
    guest_arg="--fake-guest=$id"
    id=${id%%,*}
  else
    id=$(wait_for_line "$host_log" 's/^p2p_game: host \([0-9]*\) listening on virtual port 0$/\1/p')
    guest_arg="--guest=$id"
  fi
  set +e
  timeout 60 "$GODOT_BIN" --headless --path "$WORK" -- "$guest_arg" > "$guest_log" 2>&1
  status_guest=$?
  wait $host
  status_host=$?
  set -e
  grep -h "p2p_game" "$host_log" "$guest_log" | sed "s/^/[$name] /"
  if [ $status_host -ne 0 ] || [ $status_guest -ne 0 ] || ! grep -q "^p2p_game: host ok" "$host_log" \
    || ! grep -q "^p2p_game: guest ok" "$guest_log" || grep -q "SCRIPT ERROR" "$host_log" "$guest_log"; then
    cat "$host_log" "$guest_log"
    echo "p2p_game ($name): failed (host $status_host, guest $status_guest)" >&2
    return 1
  fi
}

XDG_DATA_HOME="$WORK/zero" chat zero-config
XDG_DATA_HOME="$WORK/fake" chat fake-ip fake

port=$(free_port)
"$RELAY" --listen "127.0.0.1:$port" --pop tst --ca-key "$WORK/relay-ca.key" > "$WORK/relay.log" 2>&1 &
relay=$!
key=$(wait_for_line "$WORK/relay.log" 's/^steamnet-relay: CA public key \([0-9a-f]*\)$/\1/p')
wait_for_line "$WORK/relay.log" 's/^steamnet-relay: \(listening\) on.*/\1/p' > /dev/null
STEAMNET_RELAY="127.0.0.1:$port" STEAMNET_TRUSTED_CA_KEYS="$key" XDG_DATA_HOME="$WORK/relay" chat relay-process
grep -q "relay session" "$WORK/relay.log" || { cat "$WORK/relay.log"; echo "p2p_game: the chat did not go through steamnet-relay" >&2; exit 1; }
STEAMNET_RELAY="127.0.0.1:$port" STEAMNET_TRUSTED_CA_KEYS="$key" XDG_DATA_HOME="$WORK/hosted" chat hosted-server hosted
grep -q "hosted dedicated server listening" "$WORK/relay.log" || { cat "$WORK/relay.log"; echo "p2p_game: the server did not register as hosted" >&2; exit 1; }
kill $relay
echo "PASS  p2p_game (P2P chat between two processes: by Steam ID with zero configuration, by FakeIP, through a steamnet-relay process, and to a hosted dedicated server behind it)"
