#!/usr/bin/env bash
# Installs github.com/navruzm/gha-cache-server (cmd/cache-server), an independent implementation of the
# GitHub Actions cache service v2, which the e2e suites run against next to our local service
# (test/cache-service/external.ts starts it).
#
#   bash .ci/install-gha-cache-server.sh
#
# Installs into ${GHA_CACHE_SERVER_INSTALL_DIR:-$HOME/.cache/go-cache-ci/bin}/cache-server (as GOBIN).
# Pinned to a commit (the module has no release tag we could verify; its CHANGELOG mentions 0.1.0).
# Keep GHA_CACHE_SERVER_VERSION in sync with test/cache-service/external.ts.
#
# Never fails the build: if the install does not work (no Go, no network, the module proxy refusing the
# module, …) it prints a loud warning and exits 0, and the e2e suites run against the local service only.
set -uo pipefail

GHA_CACHE_SERVER_PACKAGE="github.com/navruzm/gha-cache-server/cmd/cache-server"
GHA_CACHE_SERVER_VERSION="${GHA_CACHE_SERVER_VERSION:-18103f171bfd}"
INSTALL_DIR="${GHA_CACHE_SERVER_INSTALL_DIR:-$HOME/.cache/go-cache-ci/bin}"
BIN="$INSTALL_DIR/cache-server"
case "$(uname -s 2>/dev/null)" in MINGW* | MSYS* | CYGWIN*) BIN="$BIN.exe" ;; esac
STAMP="$INSTALL_DIR/cache-server.version"

warn() {
  local bar
  bar="$(printf '!%.0s' $(seq 1 100))"
  {
    echo "$bar"
    echo "!!! gha-cache-server was NOT installed: $*"
    echo "!!! ($GHA_CACHE_SERVER_PACKAGE@$GHA_CACHE_SERVER_VERSION into $INSTALL_DIR)"
    echo "!!! The e2e suites will run against the LOCAL cache service only; the independent"
    echo "!!! implementation is not being checked. Fix this before trusting an e2e pass."
    echo "$bar"
  } >&2
  if [ -n "${GITHUB_ACTIONS:-}" ]; then
    echo "::warning title=gha-cache-server not installed::$* (e2e runs against the local cache service only)"
  fi
  exit 0
}

if [ -x "$BIN" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$GHA_CACHE_SERVER_VERSION" ]; then
  echo "gha-cache-server $GHA_CACHE_SERVER_VERSION already installed: $BIN"
  exit 0
fi

command -v go >/dev/null 2>&1 || warn "no 'go' on PATH"
mkdir -p "$INSTALL_DIR" || warn "cannot create $INSTALL_DIR"

echo "installing $GHA_CACHE_SERVER_PACKAGE@$GHA_CACHE_SERVER_VERSION into $INSTALL_DIR ($(go version))"
# From a neutral directory with GOFLAGS/GOWORK cleared, so the caller's module, workspace or flags
# (e.g. -mod=vendor) cannot get in the way. CGO is not needed (its SQLite driver is pure Go).
if ! (cd "${TMPDIR:-/tmp}" && GOBIN="$INSTALL_DIR" GOFLAGS="" GOWORK=off CGO_ENABLED=0 \
  go install "$GHA_CACHE_SERVER_PACKAGE@$GHA_CACHE_SERVER_VERSION"); then
  rm -f "$STAMP"
  warn "'go install $GHA_CACHE_SERVER_PACKAGE@$GHA_CACHE_SERVER_VERSION' failed (see above)"
fi
[ -x "$BIN" ] || warn "go install succeeded but $BIN is missing"

echo "$GHA_CACHE_SERVER_VERSION" >"$STAMP"
echo "gha-cache-server installed: $BIN"
