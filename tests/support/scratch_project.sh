# Sourced by the multi-process test scripts: lay out a Godot project in a scratch folder, with
# the given files and the built addon beside them, registered without an editor import.
#   WORK=$(scratch_project SOURCE_DIR FILE...)   # removed again by the caller's trap
scratch_project() {
  local src=$1 root work
  shift
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  work=$(mktemp -d)
  for file in "$@"; do
    cp "$src/$file" "$work/"
  done
  mkdir -p "$work/addons" "$work/.godot"
  cp -r "$root/addons/steam_networking_sockets" "$work/addons/"
  echo "res://addons/steam_networking_sockets/steam_networking_sockets.gdextension" > "$work/.godot/extension_list.cfg"
  echo "$work"
}
