#!/usr/bin/env bash
# Run every cargo-fuzz target for a bounded time (default 30 s each):
#   bash scripts/fuzz.sh [seconds] [target...]
# Needs a nightly toolchain (libFuzzer's instrumentation); installs cargo-fuzz if missing.
# Without nightly it says so and exits 0: `cargo test` still drives the same target functions
# with seeded random input on stable (steamnet_proto::fuzzing).
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
cd "$HERE/fuzz"
SECONDS_EACH=${1:-30}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(wire session handshake datagram certificate relay_messages)
if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  echo "fuzz.sh: no nightly toolchain here; skipping libFuzzer runs (cargo test covers the targets on stable)"
  exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
mkdir -p corpus artifacts
for target in "${TARGETS[@]}"; do
  echo "fuzz.sh: $target for ${SECONDS_EACH}s"
  mkdir -p "corpus/$target"
  cargo +nightly fuzz run "$target" "corpus/$target" -- -max_total_time="$SECONDS_EACH" -max_len=2048 \
    -print_final_stats=1 2>&1 | grep -E '^(INFO: Running|#[0-9]+.*DONE|Done|stat::number_of_executed_units|==)|panicked|ERROR' || true
  if ls fuzz/artifacts/"$target"/crash-* artifacts/"$target"/crash-* >/dev/null 2>&1; then
    echo "fuzz.sh: $target found a crash; see fuzz/artifacts/$target" >&2
    exit 1
  fi
done
echo "fuzz.sh: no crashes"
