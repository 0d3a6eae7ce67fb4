#!/usr/bin/env bash
# Builds the experimental helper bundles measured in bench/results/helper.md ("Experiments"), from
# src/helper plus a patch, into bench/work/exp/<name>/dist/{helper,shim}/index.js. It does not touch
# src/ or dist/. The patches are against src/helper as of the benchmark's commit.
#   E1: synchronous fs calls on the request path (store.ts)                        E1.patch
#   E2: E1, and the shim answers gets from the store itself; the daemon still     E1.patch E2.patch
#       receives each get (to record the use) but its answer is not waited for
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
here=$root/bench/helper/experiments
ncc=$root/node_modules/.bin/ncc
build() {
  local name=$1
  shift
  local d=$root/bench/work/exp/$name
  rm -rf "$d"
  mkdir -p "$d/src"
  cp -r "$root/src/helper" "$d/src/"
  cp "$root/tsconfig.json" "$d/"
  echo '{"type":"module"}' >"$d/package.json"
  for p in "$@"; do patch -s -d "$d/src/helper" -p1 <"$here/$p"; done
  (cd "$d" && "$ncc" build src/helper/main.ts -o dist/helper --minify --quiet &&
    "$ncc" build src/helper/shim.ts -o dist/shim --minify --quiet)
  echo "$d/dist"
}
build E1 E1.patch
build E2 E1.patch E2.patch
