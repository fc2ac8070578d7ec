#!/usr/bin/env bash
# Fast-under-loss benchmark: steamnet and Valve's GameNetworkingSockets side by side through
# the same lossy, laggy proxy (rust/net/benches/lossy.rs). Fetches Debian sid's GNS 1.6.1 with
# scripts/get-gns.sh (or uses GNS_ROOT, e.g. a Release build from source) and runs the benchmark
# through that library's loader. Not part of CI: it takes minutes and prints figures.
set -euo pipefail
# shellcheck source=lib/gns-bench.sh
source "$(dirname "$0")/lib/gns-bench.sh"
gns_bench lossy
