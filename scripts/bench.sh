#!/usr/bin/env bash
# `npm run bench:<name>`: set up, then run one benchmark script.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
exec node --import tsx "$@"
