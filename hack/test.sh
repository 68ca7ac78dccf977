#!/usr/bin/env bash
# The README's test command (`make test`) and what .ci/run calls: install, lint, type-check, then
# every test tier this machine can run (unit, integration, chaos, operator, monitoring, e2e). The
# services the tiers need (Kafka, registry, kube-apiserver) are started by session fixtures on
# 127.0.0.1 and stopped by pid; e2e runs a single node inside a network namespace it creates
# (K2_E2E_CLUSTER=kind uses kind instead). performance is `make bench`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
start=$(date +%s)
hack/install.sh all
export PATH="$root/.venv/bin:$PATH"
echo "== ruff"; ruff check . && ruff format --check .
echo "== mypy"; mypy
echo "== pytest"
status=0
pytest -m "not performance" --cov --cov-report=term --cov-fail-under=85 \
  --durations=15 "$@" || status=$?
echo "test command wall time: $(( $(date +%s) - start )) s"
exit $status
