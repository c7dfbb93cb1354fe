#!/usr/bin/env bash
# Everything the demo and the tests need, on a fresh Debian/Ubuntu machine with Node.js 20+:
# pnpm at the pinned version, the dependencies, and redis-server (installed with apt-get
# when missing and running as root; otherwise a message saying what to install).
# Idempotent and quick when everything is already there. Sourced by demo.sh and test.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PNPM_VERSION="10.34.9"

major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$major" -lt 20 ]; then
  echo "trainyard: Node.js 20 or newer is required (found $(node --version 2>/dev/null || echo none))." >&2
  exit 1
fi

# pnpm, pinned: a global one of the right version, else a private copy under .tools/.
if command -v pnpm >/dev/null 2>&1 && [ "$(pnpm --version 2>/dev/null)" = "$PNPM_VERSION" ]; then
  PNPM="pnpm"
else
  PNPM="$ROOT/.tools/node_modules/.bin/pnpm"
  if [ ! -x "$PNPM" ] || [ "$("$PNPM" --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
    echo "trainyard: installing pnpm $PNPM_VERSION into .tools/ ..."
    mkdir -p "$ROOT/.tools"
    npm install --silent --no-audit --no-fund --prefix "$ROOT/.tools" "pnpm@$PNPM_VERSION" >/dev/null
  fi
fi
export PNPM

# Dependencies, exactly as locked.
(cd "$ROOT" && "$PNPM" install --frozen-lockfile --reporter=silent)

# redis-server: the tests and the demo start their own on a free port (unless REDIS_URL is set).
if [ -z "${REDIS_URL:-}" ] && ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "trainyard: installing redis-server with apt-get ..."
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "trainyard: redis-server is missing: run 'sudo apt-get install -y redis-server' (or set REDIS_URL to a Redis you run)." >&2
    exit 1
  fi
fi
