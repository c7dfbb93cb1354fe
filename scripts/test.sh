#!/usr/bin/env bash
# `npm test`: set up, then lint, typecheck and run every test (vitest starts its own redis-server).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
# Prometheus and promtool (Debian's package) for the observability tests: the dashboards'
# and alert rules' PromQL is evaluated by a real Prometheus (test/prometheus.test.ts).
if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "trainyard: installing prometheus with apt-get (for the observability tests) ..."
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  else
    echo "trainyard: prometheus is missing; the observability tests will be skipped (run 'sudo apt-get install -y prometheus' to run them)." >&2
  fi
fi
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
