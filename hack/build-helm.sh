#!/usr/bin/env bash
# Builds helm from its Go module (no binary download, no container registry needed) into
# ${XDG_CACHE_HOME:-~/.cache}/k2/helm/<version>/bin and prints that folder.
# Idempotent: when the binary exists and reports the expected version it only prints the folder.
# Cold build: a few minutes on 2 cores (the Go module and build caches stay in GOPATH/GOCACHE).
set -euo pipefail

HELM_VERSION="${K2_HELM_VERSION:-v4.3.1}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/k2/helm/${HELM_VERSION}"
bin="$cache/bin"
log() { printf '[build-helm] %s\n' "$*" >&2; }

export GOFLAGS="-buildvcs=false"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
parallel="${K2_GO_PARALLEL:-2}"

version_ok() {
  [ -x "$bin/helm" ] && [ "$("$bin/helm" version --template '{{.Version}}' 2>/dev/null)" = "$HELM_VERSION" ]
}

if ! version_ok; then
  command -v go >/dev/null || { log "need Go (>= the version helm ${HELM_VERSION} declares)"; exit 1; }
  started=$SECONDS
  # `go install pkg@version` builds outside any module, so no wrapper module is needed here. Without
  # internal/version.version the binary calls itself "v4.3" (what `helm version` and plugins check).
  pkg=helm.sh/helm/v4/internal/version
  ldflags="-s -w -X $pkg.version=${HELM_VERSION} -X $pkg.gitTreeState=clean"
  log "go install helm.sh/helm/v4/cmd/helm@${HELM_VERSION}"
  mkdir -p "$cache/bin.tmp"
  GOBIN="$cache/bin.tmp" go install -p "$parallel" -trimpath -ldflags="$ldflags" \
    "helm.sh/helm/v4/cmd/helm@${HELM_VERSION}"
  mkdir -p "$bin"
  mv -f "$cache/bin.tmp/helm" "$bin/helm"
  rm -rf "$cache/bin.tmp"
  version_ok || { log "built, but helm does not report ${HELM_VERSION}"; exit 1; }
  log "built in $((SECONDS - started)) s"
fi
echo "$bin"
