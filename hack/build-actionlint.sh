#!/usr/bin/env bash
# Builds actionlint (the GitHub Actions workflow linter) from its Go module into
# ${XDG_CACHE_HOME:-~/.cache}/k2/tools/actionlint-<version>/ and prints the binary's path.
# Idempotent: a cached binary is only reported. Cold: ~1 min.
set -euo pipefail
version="${K2_ACTIONLINT_VERSION:-v1.7.12}"
dir="${XDG_CACHE_HOME:-$HOME/.cache}/k2/tools/actionlint-${version}"
if [ ! -x "$dir/actionlint" ]; then
  command -v go >/dev/null || { echo "[actionlint] need Go" >&2; exit 1; }
  echo "[actionlint] go install github.com/rhysd/actionlint/cmd/actionlint@${version}" >&2
  GOBIN="$dir" GOFLAGS="-buildvcs=false" GOTOOLCHAIN="${GOTOOLCHAIN:-local}" nice -n 10 \
    go install -trimpath -ldflags="-s -w -X github.com/rhysd/actionlint.version=${version}" \
    "github.com/rhysd/actionlint/cmd/actionlint@${version}"
fi
echo "$dir/actionlint"
