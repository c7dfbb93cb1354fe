#!/usr/bin/env bash
# `npm run demo`: set up, then run the main job end to end (scripts/demo.ts).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
exec node --import tsx scripts/demo.ts "$@"
