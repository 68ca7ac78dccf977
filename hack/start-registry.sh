#!/usr/bin/env bash
# Start (default), stop or show the local schema registry (Apicurio) on its default ports, work dir .k2/infra.
#   hack/start-registry.sh [start|stop|status] [--dir DIR] [more: python -m spark_jobs.local_infra --help]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
action="${1:-start}"
[ $# -gt 0 ] && shift
hack/install.sh local
exec .venv/bin/python -m spark_jobs.local_infra "$action" --what registry "$@"
