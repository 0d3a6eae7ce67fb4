#!/usr/bin/env bash
# The demo from a fresh clone: install, then two CI jobs (cold, warm) through the runner harness
# against the embedded Actions cache service.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
command -v go >/dev/null || { echo 'go-cache demo: needs Go 1.24 or newer on PATH'; exit 1; }
npm ci --no-audit --no-fund --loglevel=error
exec npx tsx test/demo.ts
