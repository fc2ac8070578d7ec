#!/usr/bin/env bash
# The editor's class reference is complete: every class, method, signal, property and constant
# that ClassDB registers for steamnet has a description.
#   bash tests/docs/check.sh GODOT_BIN
# How: gdext compiles our doc comments into XML pages, which tests/class_reference.rs writes out;
# Godot's own `--doctool --gdextension-docs` then merges them into the skeleton it builds from
# ClassDB (so a bound method nobody documented shows up empty), and check_reference.py reads the
# result.
set -euo pipefail
GODOT_BIN=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

STEAMNET_DOCS_OUT="$OUT/doc_classes" cargo test -q -p steamnet-godot --test class_reference >&2
"$GODOT_BIN" --headless --path "$ROOT" --doctool "$OUT" --gdextension-docs > "$OUT/doctool.log" 2>&1 || {
  cat "$OUT/doctool.log" >&2
  echo "docs: godot --doctool failed" >&2
  exit 1
}
python3 "$ROOT/tests/docs/check_reference.py" "$OUT/doc_classes"
