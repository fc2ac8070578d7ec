# Sourced by the benchmarks that measure Valve's GameNetworkingSockets beside steamnet
# (bench-lossy.sh, bench-loopback.sh):
#   gns_bench NAME   build steamnet-net's benchmark NAME, fetch Debian sid's GNS 1.6.1 with
#                    scripts/get-gns.sh (or use GNS_ROOT, e.g. a Release build from source:
#                    scripts/build-gns.sh) and run the benchmark with GNS_LIB naming it, through
#                    that library's loader
gns_bench() {
  local name=$1 here loader libdir bin lib
  local -a gns
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  cd "$here"
  mapfile -t gns < <(bash scripts/get-gns.sh | tail -n 2)
  loader=${gns[0]}
  libdir=${gns[1]}
  bin=$(cargo bench -p steamnet-net --bench "$name" --no-run 2>&1 | sed -n "s/.*(\(.*deps\/$name-[0-9a-f]*\)).*/\1/p" | tail -n 1)
  [ -x "$bin" ] || { echo "gns_bench: benchmark binary $name not found" >&2; return 1; }
  lib=$(ls "$libdir"/libGameNetworkingSockets.so* | head -n 1)
  if [ "$loader" = system ]; then
    GNS_LIB=$lib LD_LIBRARY_PATH=$libdir "$bin"
  else
    GNS_LIB=$lib "$loader" --library-path "$libdir" "$bin"
  fi
}
