#!/usr/bin/env bash
# `make local`: install what the local pipeline needs (venv, Spark jars, Kafka, registry), then run
# `k2 local` (Kafka + registry + feed + the five Spark jobs in one Spark application).
#   hack/local.sh                      run until Ctrl-C (live feed if reachable, else synthetic)
#   hack/local.sh --duration 120       run two minutes, then print the summary
#   hack/local.sh --fresh --source replay
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
hack/install.sh local
export PATH="$root/.venv/bin:$PATH"
exec k2 local "$@"
