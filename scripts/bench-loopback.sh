#!/usr/bin/env bash
# Loopback benchmark with all three peers side by side: plain UDP, steamnet and Valve's
# GameNetworkingSockets (rust/net/benches/loopback.rs: round trips, throughput, small messages).
# Fetches Debian sid's GNS 1.6.1 with scripts/get-gns.sh (a debug-mode build that flatters us),
# or uses GNS_ROOT: for figures you publish, scripts/build-gns.sh then
# GNS_ROOT=$PWD/.cache/gns-release bash scripts/bench-loopback.sh. Not part of CI.
set -euo pipefail
# shellcheck source=lib/gns-bench.sh
source "$(dirname "$0")/lib/gns-bench.sh"
gns_bench loopback
