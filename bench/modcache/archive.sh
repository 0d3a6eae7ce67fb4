#!/usr/bin/env bash
# What archiving GOMODCACHE's extracted trees costs, against archiving cache/download alone and letting
# Go unpack the trees from the cached zips (src/modcache/restore.ts, moduleArchivePaths).
#
#   bash bench/modcache/archive.sh <GOMODCACHE filled by a build> <module dir that build ran in>
#
# Prints the size of each archive (tar | zstd -T0, as @actions/cache makes it), the time to unpack it,
# and the time `go list -deps ./...` (GOPROXY=off) takes in the module when the trees are there and
# when Go has to unpack them from the zips first.
set -euo pipefail
src=$(cd "$1" && pwd)
mod=$(cd "$2" && pwd)
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
export PATH=/usr/local/go/bin:$PATH GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local GOWORK=off

cp -a "$src" "$work/full" && chmod -R u+w "$work/full"
mkdir -p "$work/zips/cache" && cp -a "$work/full/cache/download" "$work/zips/cache/"
for v in full zips; do
  tar -cf - -C "$work" "$v" | zstd -T0 -q -o "$work/$v.tzst"
  mkdir "$work/x-$v"
  t0=$(date +%s.%N)
  unzstd -c "$work/$v.tzst" | tar -xf - -C "$work/x-$v"
  t1=$(date +%s.%N)
  printf '%-5s archive %5d MB, unpack %5.2f s\n' "$v" "$(($(stat -c %s "$work/$v.tzst") / 1000000))" "$(echo "$t1 - $t0" | bc)"
done
for v in full zips; do
  cd "$mod"
  t0=$(date +%s.%N)
  GOMODCACHE="$work/x-$v/$v" go list -deps ./... >/dev/null
  t1=$(date +%s.%N)
  printf '%-5s go list -deps ./... %5.2f s\n' "$v" "$(echo "$t1 - $t0" | bc)"
done
