# Sourced by the Godot benchmarks (bench-rpc.sh, bench-gdscript.sh):
#   godot_bench SOURCE_DIR FILE...   build the optimized extension, lay SOURCE_DIR's FILEs out as a
#                                    scratch project with it, run bench.gd there headless, print
#                                    its figures, and put the debug build the tests use back
godot_bench() {
  local here work godot
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  cd "$here"
  bash scripts/build.sh --release
  godot=$(bash scripts/get-godot.sh | tail -n 1)
  # shellcheck source=../../tests/support/scratch_project.sh
  source tests/support/scratch_project.sh
  work=$(scratch_project "$@")
  # Godot's editor binary loads the "debug" library: measure the optimized one.
  release_library "$work"
  "$godot" --headless --path "$work" -s res://bench.gd 2>&1 | grep -v "^Initialize\|^Godot Engine\|^$" || true
  rm -rf "$work"
  bash scripts/build.sh >/dev/null 2>&1
}
