#!/usr/bin/env bash
# `npm test`: set up, then lint, typecheck and run every test (vitest starts its own redis-server).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
echo "== lint (biome)"
node_modules/.bin/biome check .
echo "== typecheck (tsc --strict)"
node_modules/.bin/tsc -p tsconfig.json
echo "== tests (vitest)"
set +e
node_modules/.bin/vitest run --reporter=default --reporter=json --outputFile=.test-results.json "$@"
status=$?
set -e
node -e '
  const r = JSON.parse(require("fs").readFileSync(".test-results.json", "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' || true
exit $status
