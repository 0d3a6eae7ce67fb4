#!/usr/bin/env bash
# Installs actionlint (pinned) into $HOME/.cache/go-cache-ci/bin with `go install`, unless that exact
# version is already there. Idempotent. Prints the path of the binary on stdout (progress on stderr).
#
#   actionlint="$(bash .ci/install-actionlint.sh)"
#   "$actionlint" -shellcheck= .github/workflows/*.yml
set -euo pipefail

ACTIONLINT_VERSION="v1.7.12"
bin_dir="${HOME}/.cache/go-cache-ci/bin"
exe=""
case "$(uname -s)" in MINGW* | MSYS* | CYGWIN*) exe=".exe" ;; esac
actionlint="${bin_dir}/actionlint${exe}"

installed_version() {
  # `actionlint -version` prints the version on its first line (from the module's build info).
  "${actionlint}" -version 2>/dev/null | head -n 1 || true
}

if [[ -x "${actionlint}" && "$(installed_version)" == "${ACTIONLINT_VERSION}" ]]; then
  echo "actionlint ${ACTIONLINT_VERSION} already installed" >&2
else
  if ! command -v go >/dev/null 2>&1; then
    echo "install-actionlint: 'go' is not on PATH; it is needed to install actionlint" >&2
    exit 1
  fi
  echo "installing actionlint ${ACTIONLINT_VERSION} into ${bin_dir}" >&2
  mkdir -p "${bin_dir}"
  # GOFLAGS is cleared so that a -mod=vendor or similar from the environment cannot break the install.
  GOBIN="${bin_dir}" GOFLAGS='' go install "github.com/rhysd/actionlint/cmd/actionlint@${ACTIONLINT_VERSION}" >&2
  got="$(installed_version)"
  if [[ "${got}" != "${ACTIONLINT_VERSION}" ]]; then
    echo "install-actionlint: installed binary reports version '${got}', expected '${ACTIONLINT_VERSION}'" >&2
    exit 1
  fi
fi

echo "${actionlint}"
