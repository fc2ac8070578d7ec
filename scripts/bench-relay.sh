#!/usr/bin/env bash
# The relay next to a plain UDP forwarder, in one run: forwarding rate, round trips, and the
# relay's memory per session with 10,000 sessions (RELAY_BENCH_SESSIONS to change).
# Needs about 10,100 open files (the sessions' sockets).
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 20000 2>/dev/null || true
cargo bench -p steamnet-relay --bench forwarding
# The relay network: cross-POP forwarding, directory operations, memory per identity in Redis.
cargo bench -p steamnet-relay --bench cluster
