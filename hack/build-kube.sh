#!/usr/bin/env bash
# Builds the Kubernetes test control plane from Go modules (no container registry needed):
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl  (k8s.io/kubernetes)
#   etcd                                                              (go.etcd.io/etcd/server/v3)
# and with `node` also what the e2e node (hack/e2e-node.sh) runs:
#   kubelet, kube-proxy (same module, same go build), coredns (github.com/coredns/coredns),
#   pause (hack/kube/pause: the pod sandbox image's static binary)
# into ${XDG_CACHE_HOME:-~/.cache}/k2/kube/<version>/bin and prints that folder.
# Idempotent: when every binary exists and reports the expected version it only prints the folder;
# otherwise only the missing binaries are built (the Go build cache makes the shared packages free).
# Cold build: ~8.5 min and ~3.2 GB RAM on 2 idle cores (23 min measured on 2 cores shared with four
# other builds); the Go caches stay in the default GOPATH/GOCACHE (~4 GB build cache, ~0.8 GB modules).
set -euo pipefail

KUBE_VERSION="${K2_KUBE_VERSION:-v1.37.2}"
ETCD_VERSION="${K2_ETCD_VERSION:-v3.7.3}"
COREDNS_VERSION="${K2_COREDNS_VERSION:-v1.15.0}"
what="${1:-control-plane}"
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
extra_tools=()
case "$what" in
  control-plane) ;;
  node) kube_tools+=(kubelet kube-proxy); extra_tools=(coredns pause) ;;
  *) log "usage: $0 [control-plane|node]"; exit 2 ;;
esac

version_ok() {
  local name="$1" out
  [ -x "$bin/$name" ] || return 1
  case "$name" in
    kubectl) out="$("$bin/kubectl" version --client 2>/dev/null || true)" ;;
    coredns) out="$("$bin/coredns" -version 2>/dev/null || true)" ;;
    pause) out="$(cat "$bin/pause.source-sha" 2>/dev/null || true)" ;;
    *) out="$("$bin/$name" --version 2>/dev/null || true)" ;;
  esac
  case "$name" in
    etcd) grep -q "etcd Version: ${ETCD_VERSION#v}\$" <<<"$out" ;;
    coredns) grep -q "CoreDNS-${COREDNS_VERSION#v}\$" <<<"$out" ;;
    pause) [ "$out" = "$(sha256sum "$here/kube/pause/main.go" | cut -c1-64)" ] ;;
    *) grep -q "${KUBE_VERSION}\$" <<<"$out" ;;
  esac
}

all_ok() {
  local name
  for name in "${kube_tools[@]}" etcd "${extra_tools[@]}"; do version_ok "$name" || return 1; done
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
    local missing=() t
    for t in "${kube_tools[@]}"; do version_ok "$t" || missing+=("$t"); done
    log "go build ${missing[*]} (cold, all of them: 8.5 min on idle cores, more on a busy machine)"
    local out="$cache/bin.tmp"
    rm -rf "$out" && mkdir -p "$out"
    nice -n 10 go build -p "$parallel" -trimpath -ldflags="${ldflags[*]}" -o "$out/" \
      $(printf 'k8s.io/kubernetes/cmd/%s ' "${missing[@]}")
    mkdir -p "$bin"
    for t in "${missing[@]}"; do mv -f "$out/$t" "$bin/$t"; done
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
    nice -n 10 go build -p "$parallel" -trimpath -ldflags="-s -w" -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3
    mv -f "$bin/etcd.tmp" "$bin/etcd"
  )
}

build_coredns() {
  local src="$cache/src/coredns"
  log "go build github.com/coredns/coredns@${COREDNS_VERSION} (~3 min cold)"
  rm -rf "$src" && mkdir -p "$src" "$bin"
  cp "$here/kube/coredns/tools.go" "$src/tools.go"
  (
    cd "$src"
    go mod init k2.dev/coredns-build >/dev/null 2>&1
    go mod edit -require="github.com/coredns/coredns@${COREDNS_VERSION}"
    # CGO off: a static binary. The version string comes from coremain's constant, no ldflags needed.
    CGO_ENABLED=0 nice -n 10 go build -p "$parallel" -trimpath -ldflags="-s -w" -o "$bin/coredns.tmp" \
      github.com/coredns/coredns
    mv -f "$bin/coredns.tmp" "$bin/coredns"
  )
}

build_pause() {
  local src="$cache/src/pause"
  log "go build pause (the pod sandbox binary, static)"
  rm -rf "$src" && mkdir -p "$src" "$bin"
  cp "$here/kube/pause/main.go" "$src/main.go"
  (
    cd "$src"
    go mod init k2.dev/pause >/dev/null 2>&1
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$bin/pause" .
  )
  sha256sum "$here/kube/pause/main.go" | cut -c1-64 >"$bin/pause.source-sha"
}

if ! all_ok; then
  command -v go >/dev/null || { log "need Go (>= the version kubernetes ${KUBE_VERSION} declares)"; exit 1; }
  command -v jq >/dev/null || { log "need jq"; exit 1; }
  started=$SECONDS
  version_ok etcd || build_etcd
  for t in "${extra_tools[@]}"; do version_ok "$t" || "build_$t"; done
  for t in "${kube_tools[@]}"; do
    if ! version_ok "$t"; then build_kube; break; fi
  done
  all_ok || { log "built, but a binary does not report the expected version"; exit 1; }
  log "built in $((SECONDS - started)) s"
fi
echo "$bin"
