# Sourced by the multi-process test scripts (and scripts/screenshots.sh).
#   WORK=$(scratch_project SOURCE_DIR FILE...)   # a Godot project in a scratch folder, with the
#                                                # given files or folders and the built addon
#                                                # beside them, registered without an editor
#                                                # import (the one-line .godot/extension_list.cfg
#                                                # README's install steps write); the caller's
#                                                # trap removes it
#   release_library WORK                         # the benchmarks: the optimized library under
#                                                # the debug name, which the editor binary loads
#   scratch_run GODOT_BIN SOURCE_DIR FILE...     # in a run.sh: sets GODOT_BIN and WORK, and at
#                                                # exit kills background jobs and removes WORK
#   value=$(wait_for_line LOG SED_SCRIPT)        # poll LOG (up to 30 s) until SED_SCRIPT prints
#                                                # something, print that; else show LOG and fail
#   run_checked LOG LABEL EXPECT FORBIDDEN SECONDS COMMAND...
#                                                # run COMMAND (at most SECONDS) into LOG; show LOG
#                                                # and fail on a non-zero exit, on no line matching
#                                                # EXPECT (an ERE; "" expects nothing) or on a line
#                                                # matching FORBIDDEN; else print "PASS  LABEL"
scratch_project() {
  local src=$1 root work
  shift
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  work=$(mktemp -d)
  for file in "$@"; do
    cp -r "$src/$file" "$work/"
  done
  mkdir -p "$work/addons" "$work/.godot"
  cp -r "$root/addons/steam_networking_sockets" "$work/addons/"
  echo "res://addons/steam_networking_sockets/steam_networking_sockets.gdextension" > "$work/.godot/extension_list.cfg"
  echo "$work"
}

release_library() {
  local root bin
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  bin=addons/steam_networking_sockets/bin
  cp "$root/$bin/libsteamnet.linux.template_release.x86_64.so" "$1/$bin/libsteamnet.linux.template_debug.x86_64.so"
}

wait_for_line() {
  local log=$1 script=$2 value=""
  for _ in $(seq 1 300); do
    value=$(sed -n "$script" "$log" 2>/dev/null | head -1)
    [ -n "$value" ] && { echo "$value"; return 0; }
    sleep 0.1
  done
  cat "$log" >&2
  echo "$(basename "$log"): the expected line never came ($script)" >&2
  return 1
}

scratch_run() {
  GODOT_BIN=$1
  shift
  WORK=$(scratch_project "$@")
  trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
}

run_checked() {
  local log=$1 label=$2 expect=$3 forbidden=$4 seconds=$5 status=0
  shift 5
  timeout "$seconds" "$@" >"$log" 2>&1 || status=$?
  if [ "$status" -ne 0 ] || { [ -n "$expect" ] && ! grep -Eq "$expect" "$log"; } || grep -Eq "$forbidden" "$log"; then
    cat "$log" >&2
    echo "$label failed (exit $status)" >&2
    exit 1
  fi
  echo "PASS  $label"
}
