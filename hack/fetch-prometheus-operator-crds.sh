#!/usr/bin/env bash
# The prometheus-operator CRDs (PodMonitor, ServiceMonitor, PrometheusRule, ...) generated offline with
# controller-gen from the Go module github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring
# (the upstream repository's root module is not served), into
# ~/.cache/k2/prometheus-operator-crds/<version>/. Prints that folder. The monitoring tests install them
# into the test API server and validate the chart's monitoring objects against them.
set -euo pipefail
version="${K2_PROMETHEUS_OPERATOR_VERSION:-v0.95.2}"
controller_tools="${K2_CONTROLLER_TOOLS_VERSION:-v0.23.0}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/k2"
dest="$cache/prometheus-operator-crds/$version"
if [ -f "$dest/.complete" ]; then
  echo "$dest"
  exit 0
fi
gen="$cache/controller-gen/$controller_tools/controller-gen"
if [ ! -x "$gen" ]; then
  echo "building controller-gen $controller_tools (a few minutes once)" >&2
  GOBIN="$(dirname "$gen")" GOFLAGS=-buildvcs=false nice -n 10 go install "sigs.k8s.io/controller-tools/cmd/controller-gen@$controller_tools" >&2
fi
echo "generating prometheus-operator $version CRDs into $dest" >&2
module=github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring
work="$dest.tmp.$$"
rm -rf "$work" && mkdir -p "$work/src" "$work/out"
trap 'rm -rf "$work"' EXIT
# A throwaway module that requires the API types, so controller-gen can load their package.
cat > "$work/src/go.mod" <<MOD
module k2.dev/prometheus-operator-crds

go 1.24

require $module $version
MOD
printf 'package crds\n\nimport _ "%s/v1"\n' "$module" > "$work/src/tools.go"
(cd "$work/src" && go mod tidy >&2 && "$gen" crd:crdVersions=v1,allowDangerousTypes=true,maxDescLen=0 \
  "paths=$module/v1" "output:crd:dir=$work/out" >&2)
rm -rf "$dest" && mkdir -p "$dest" && cp "$work"/out/*.yaml "$dest/" && touch "$dest/.complete"
echo "$dest"
