#!/usr/bin/env bash
# Obtain a runnable redis-server for the relay cluster tests and print the folder it is in (the
# last line on stdout; progress goes to stderr).
#
# The usual way is Debian's package (`apt-get install redis-server`, as root). Where apt cannot
# install (not root, or a system whose package state apt refuses to touch: one machine here has
# a newer libc than its release, and every install fails on it), the package and the two
# libraries it needs beyond the base system are downloaded and unpacked into a private folder
# instead (`apt-get download` resolves no dependencies), with a wrapper that finds them
# (redis-server is a link to the binary redis-tools ships, which reads its name to decide its role).
# Idempotent: a second run finds what the first left.
set -euo pipefail

HERE=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${STEAMNET_REDIS_CACHE:-$HERE/.cache/redis}
log() { echo "get-redis: $*" >&2; }

if command -v redis-server >/dev/null; then
  dirname "$(command -v redis-server)"
  exit 0
fi
if [ -x "$CACHE/bin/redis-server" ]; then
  echo "$CACHE/bin"
  exit 0
fi
if [ "$(id -u)" = 0 ]; then
  if apt-get install -y -qq redis-server >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq redis-server >/dev/null 2>&1; }; then
    dirname "$(command -v redis-server)"
    exit 0
  fi
  log "apt-get could not install redis-server; unpacking Debian's package privately"
fi
command -v apt-get >/dev/null || { log "needs apt-get (Debian) or redis-server on PATH"; exit 1; }
rm -rf "$CACHE"
mkdir -p "$CACHE/debs" "$CACHE/root" "$CACHE/bin"
download() { (cd "$CACHE/debs" && apt-get download redis-server redis-tools libjemalloc2 liblzf1 >/dev/null 2>&1); }
# Stale package lists name versions the mirror no longer has: refresh them (as root) and retry.
download || { apt-get update -qq >/dev/null 2>&1 || true; download; } || { log "apt-get download failed for redis-server and its libraries"; exit 1; }
for deb in "$CACHE"/debs/*.deb; do
  dpkg -x "$deb" "$CACHE/root"
done
cat >"$CACHE/bin/redis-server" <<EOF
#!/bin/sh
LD_LIBRARY_PATH="$CACHE/root/usr/lib/x86_64-linux-gnu\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "$CACHE/root/usr/bin/redis-server" "\$@"
EOF
chmod +x "$CACHE/bin/redis-server"
"$CACHE/bin/redis-server" --version >&2
echo "$CACHE/bin"
