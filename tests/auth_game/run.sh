#!/usr/bin/env bash
# Authenticated connections between four separate Godot processes of one project, with zero
# configuration: the first to call initAuthentication() hosts this machine's CA on
# 127.0.0.1:27190, each instance gets an identity slot of its own, and:
#   server + client: both authenticate and each sees the other's verified identity in
#                    getConnectionInfo() and in received messages;
#   strict:          IP_ALLOW_WITHOUT_AUTH = 0 refuses an anonymous process (Remote_BadCert)
#                    and accepts the authenticated client;
#   offline:         getCertificateRequest -> `steamnet-relay ca sign` -> setCertificate, with
#                    that CA trusted through the project setting steamnet/auth/trusted_ca_keys.
# Usage: run.sh GODOT_BIN. XDG_DATA_HOME points at a scratch folder, so the local CA key and
# the identities (user://) are made fresh and leave nothing behind.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../support/scratch_project.sh
source "$HERE/../support/scratch_project.sh"
scratch_run "$1" "$HERE" project.godot game.gd game.tscn
export XDG_DATA_HOME="$WORK/data"
unset STEAMNET_RELAY STEAMNET_TRUSTED_CA_KEYS STEAMNET_IDENTITY_DIR
RELAY="$HERE/../../target/debug/steamnet-relay"
[ -x "$RELAY" ] || { echo "auth_game: build steamnet-relay first (scripts/build.sh)" >&2; exit 1; }
# Trust this machine's local CA (its key made now, where the first process will find it) and an
# offline CA, through the project setting a game would use.
local_key=$("$RELAY" ca public-key --ca-key "$XDG_DATA_HOME/steamnet/local-ca.key")
offline_key=$("$RELAY" ca public-key --ca-key "$WORK/offline-ca.key")
printf '\n[steamnet]\n\nauth/trusted_ca_keys=PackedStringArray("%s", "%s")\n' "$local_key" "$offline_key" >> "$WORK/project.godot"
play() { # role-args... -> runs one instance, output in $WORK/<name>.log
  local name=$1
  shift
  timeout 60 "$GODOT_BIN" --headless --path "$WORK" -- "$@" > "$WORK/$name.log" 2>&1
}
wait_line() { wait_for_line "$WORK/$1.log" "$2"; } # role sed-script -> the first capture
play server --server & server=$!
play strict --strict & strict=$!
server_line=$(wait_line server 's/^auth_game: server \([0-9]*\) listening on 127.0.0.1:\([0-9]*\)$/\1 \2/p')
strict_port=$(wait_line strict 's/^auth_game: strict [0-9]* listening on 127.0.0.1:\([0-9]*\)$/\1/p')
server_id=${server_line% *}
server_port=${server_line#* }
set +e
play anonymous --anonymous="$strict_port"; anonymous_status=$?
play client --client="$server_port,$server_id,$strict_port"; client_status=$?
mkdir -p "$WORK/offline"
# The offline instance keeps its identity where STEAMNET_IDENTITY_DIR says.
STEAMNET_IDENTITY_DIR="$WORK/identity-elsewhere" play offline --offline="$WORK/offline" & offline=$!
wait_line offline 's/^auth_game: offline \(request written\)$/\1/p' > /dev/null
"$RELAY" ca sign --ca-key "$WORK/offline-ca.key" --in "$WORK/offline/request" --out "$WORK/offline/certificate.tmp"
mv "$WORK/offline/certificate.tmp" "$WORK/offline/certificate"
wait $offline; offline_status=$?
[ -s "$WORK/identity-elsewhere/slot-0/identity.key" ] || { echo "auth_game: STEAMNET_IDENTITY_DIR was not used" >&2; offline_status=1; }
wait $server; server_status=$?
wait $strict; strict_status=$?
set -e
cat "$WORK"/{server,strict,anonymous,client,offline}.log | grep -E "auth_game|ERROR" || true
ok=1
for role in server strict anonymous client offline; do
  grep -q "^auth_game: $role ok" "$WORK/$role.log" || ok=0
done
ids=$(grep -ho 'steamid:[0-9]*\| [0-9]\{17\} listening' "$WORK"/{server,strict}.log | grep -o '[0-9]\{17\}' | sort -u | wc -l)
if [ $ok -ne 1 ] || [ "$server_status$strict_status$anonymous_status$client_status$offline_status" != "00000" ] \
  || [ "$ids" -lt 2 ] || grep -q "SCRIPT ERROR" "$WORK"/*.log; then
  echo "auth_game: failed (server $server_status, strict $strict_status, anonymous $anonymous_status, client $client_status, offline $offline_status)" >&2
  exit 1
fi
echo "PASS  auth_game (five processes: verified identities both ways, anonymous refused with Remote_BadCert, offline certificate)"
