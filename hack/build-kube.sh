#!/usr/bin/env bash
# Builds the Kubernetes test control plane from Go modules (no container registry needed):
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl  (k8s.io/kubernetes)
#   etcd                                                              (go.etcd.io/etcd/server/v3)
# into ${XDG_CACHE_HOME:-~/.cache}/k2/kube/<version>/bin and prints that folder.
# Idempotent: when every binary exists and reports the expected version it only prints the folder.
# Cold build: ~8.5 min and ~3.2 GB RAM on 2 idle cores (23 min measured on 2 cores shared with four
# other builds); the Go caches stay in the default GOPATH/GOCACHE (~4 GB build cache, ~0.8 GB modules).
set -euo pipefail

KUBE_VERSION="${K2_KUBE_VERSION:-v1.37.2}"
ETCD_VERSION="${K2_ETCD_VERSION:-v3.7.3}"
here="$(cd "$(dirname "$0")" && pwd)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/k2/kube/${KUBE_VERSION}"
bin="$cache/bin"
log() { printf '[build-kube] %s\n' "$*" >&2; }

# -mod=mod: the wrapper modules' go.mod/go.sum are generated, so let go fill in go.sum.
# -p 2: the machine is shared; the kube build peaks around 3.2 GB with two compilers.
export GOFLAGS="-mod=mod -buildvcs=false"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
parallel="${K2_GO_PARALLEL:-2}"

kube_tools=(kube-apiserver kube-controller-manager kube-scheduler kubectl)

version_ok() {
  local name="$1" out
  [ -x "$bin/$name" ] || return 1
  case "$name" in
    kubectl) out="$("$bin/kubectl" version --client 2>/dev/null || true)" ;;
    *) out="$("$bin/$name" --version 2>/dev/null || true)" ;;
  esac
  case "$name" in
    etcd) grep -q "etcd Version: ${ETCD_VERSION#v}\$" <<<"$out" ;;
    *) grep -q "${KUBE_VERSION}\$" <<<"$out" ;;
  esac
}

all_ok() {
  local name
  for name in "${kube_tools[@]}" etcd; do version_ok "$name" || return 1; done
}

# One `replace k8s.io/X => k8s.io/X v0.<minor>.<patch>` per staging module, read from kubernetes' own
# go.mod (its replace block points at ./staging/src/..., which the module zip does not contain).
staging_replaces() {
  local gomod="$1" staging_version="$2"
  go mod edit -json "$gomod" |
    jq -r --arg v "$staging_version" \
      '.Replace[] | select(.New.Path | startswith("./staging/")) | "-replace=\(.Old.Path)=\(.Old.Path)@\($v)"'
}

build_kube() {
  local src="$cache/src/kube" staging_version gomod info build_date go_directive
  staging_version="v0.${KUBE_VERSION#v1.}"
  log "resolving k8s.io/kubernetes@${KUBE_VERSION} (staging modules at ${staging_version})"
  read -r gomod info < <(go mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" | jq -r '"\(.GoMod) \(.Info)"')
  build_date="$(jq -r .Time "$info" | sed 's/\.[0-9]*Z$/Z/')"
  go_directive="$(go mod edit -json "$gomod" | jq -r .Go)"

  rm -rf "$src" && mkdir -p "$src"
  cp "$here/kube/kube/tools.go" "$src/tools.go"
  (
    cd "$src"
    go mod init k2.dev/kube-build >/dev/null 2>&1
    mapfile -t replaces < <(staging_replaces "$gomod" "$staging_version")
    log "${#replaces[@]} staging replaces"
    go mod edit -go="$go_directive" -require="k8s.io/kubernetes@${KUBE_VERSION}" "${replaces[@]}"
    local major minor pkg ldflags=(-s -w)
    major="$(cut -d. -f1 <<<"${KUBE_VERSION#v}")"
    minor="$(cut -d. -f2 <<<"${KUBE_VERSION#v}")"
    # Both packages carry a copy of the version; without them the server reports v0.0.0-master and
    # kubectl's / helm's kubeVersion checks fail.
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ldflags+=(-X "$pkg.gitVersion=${KUBE_VERSION}" -X "$pkg.gitMajor=${major}" -X "$pkg.gitMinor=${minor}"
        -X "$pkg.gitTreeState=clean" -X "$pkg.buildDate=${build_date}")
    done
    log "go build ${kube_tools[*]} (cold: 8.5 min on idle cores, more on a busy machine)"
    local out="$cache/bin.tmp"
    rm -rf "$out" && mkdir -p "$out"
    go build -p "$parallel" -trimpath -ldflags="${ldflags[*]}" -o "$out/" \
      $(printf 'k8s.io/kubernetes/cmd/%s ' "${kube_tools[@]}")
    mkdir -p "$bin"
    for t in "${kube_tools[@]}"; do mv -f "$out/$t" "$bin/$t"; done
    rm -rf "$out"
  )
}

build_etcd() {
  local src="$cache/src/etcd"
  log "go build go.etcd.io/etcd/server/v3@${ETCD_VERSION} (~1 min)"
  rm -rf "$src" && mkdir -p "$src" "$bin"
  cp "$here/kube/etcd/tools.go" "$src/tools.go"
  (
    cd "$src"
    go mod init k2.dev/etcd-build >/dev/null 2>&1
    go mod edit -require="go.etcd.io/etcd/server/v3@${ETCD_VERSION}"
    go build -p "$parallel" -trimpath -ldflags="-s -w" -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3
    mv -f "$bin/etcd.tmp" "$bin/etcd"
  )
}

if ! all_ok; then
  command -v go >/dev/null || { log "need Go (>= the version kubernetes ${KUBE_VERSION} declares)"; exit 1; }
  command -v jq >/dev/null || { log "need jq"; exit 1; }
  started=$SECONDS
  version_ok etcd || build_etcd
  for t in "${kube_tools[@]}"; do
    if ! version_ok "$t"; then build_kube; break; fi
  done
  all_ok || { log "built, but a binary does not report the expected version"; exit 1; }
  log "built in $((SECONDS - started)) s"
fi
echo "$bin"
