#!/usr/bin/env bash
# The one install script. Both README commands call it first; .ci/run calls it through them.
# Everything arrives from the project's own files and is cached under ~/.cache/k2 (or .venv),
# so a second run takes seconds.
#
#   hack/install.sh              python venv + Spark jars (what unit tests and Spark need)
#   hack/install.sh local        + Kafka broker and schema registry (the local pipeline)
#   hack/install.sh all          + Debian packages (hack/install-debs.sh: jq, buildah, mmdebstrap, runc,
#                                containerd, CNI plugins), the Kubernetes control plane, the e2e node and helm built from source
#                                (operator, chart and e2e tests), promtool/prometheus and the
#                                prometheus-operator CRDs (monitoring tests), actionlint (CI workflow test)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
what="${1:-base}"
log() { printf '[install] %s\n' "$*" >&2; }

# --- Python: a venv in .venv, reinstalled only when pyproject.toml changes --------------------
py="${K2_PYTHON:-}"
if [ -z "$py" ]; then
  for c in python3.11 python3; do
    if command -v "$c" >/dev/null && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      py="$c"; break
    fi
  done
fi
[ -n "$py" ] || { log "need Python 3.11 (set K2_PYTHON)"; exit 1; }
stamp=".venv/.k2-installed-$(sha256sum pyproject.toml | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  log "creating .venv and installing the project (pyspark builds a 450 MB wheel once; pip caches it)"
  [ -x .venv/bin/python ] || "$py" -m venv .venv
  .venv/bin/pip install -q -U pip setuptools wheel
  .venv/bin/pip install -q -e '.[dev]'
  rm -f .venv/.k2-installed-* && touch "$stamp"
fi

# --- Java 17 for Spark ----------------------------------------------------------------------
java_major() { "$1" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1; }
if [ -z "${JAVA_HOME:-}" ] || [ "$(java_major "$JAVA_HOME/bin/java")" != 17 ]; then
  for d in /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/*17*; do
    if [ -x "$d/bin/java" ]; then export JAVA_HOME="$d"; break; fi
  done
fi
[ -n "${JAVA_HOME:-}" ] && [ "$(java_major "$JAVA_HOME/bin/java")" = 17 ] || {
  log "need a Java 17 JDK for Spark 4.2 (apt-get install openjdk-17-jdk-headless)"; exit 1; }
command -v mvn >/dev/null || { log "need Maven (apt-get install maven)"; exit 1; }

hack/fetch-spark-jars.sh >/dev/null

if [ "$what" = local ] || [ "$what" = all ]; then
  for s in hack/fetch-kafka.sh hack/fetch-schema-registry.sh; do
    if [ -x "$s" ]; then "$s" >/dev/null; fi
  done
fi
if [ "$what" = all ]; then
  hack/install-debs.sh
  # promtool + prometheus (Debian package, unpacked) and the prometheus-operator CRDs: monitoring tests.
  for s in hack/build-kube.sh hack/build-helm.sh hack/fetch-prometheus.sh hack/fetch-prometheus-operator-crds.sh; do
    if [ -x "$s" ]; then "$s" >/dev/null; fi
  done
  # The e2e node (kubelet, kube-proxy, CoreDNS, pause) and actionlint for the CI workflow's test.
  hack/build-kube.sh node >/dev/null
  hack/build-actionlint.sh >/dev/null
fi
log "ready ($what)"
