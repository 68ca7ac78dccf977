#!/usr/bin/env bash
# The README's test command (`make test`) and what .ci/run calls: install, lint, type-check, then
# every test tier this machine can run (unit, integration, chaos, operator, monitoring, e2e). The
# services the tiers need (Kafka, registry, kube-apiserver) are started by session fixtures on
# 127.0.0.1 and stopped by pid; e2e runs a single node inside a network namespace it creates
# (K2_E2E_CLUSTER=kind uses kind instead). performance is `make bench`.
#
# With no arguments the tiers run in two stages:
#   1. side by side: the Spark tiers (unit, fuzz, integration, images, monitoring: CPU-bound JVMs, then
#      tests/local, `k2 local` through its entrypoint, last, when the other group has long ended) and
#      the control-plane tiers (chart, operator: mostly waiting on the API server and the operator),
#      each pytest with its own services, temp folder and coverage file;
#   2. e2e alone: ten JVMs on one 2-core node; its deadlines assume nothing else competes.
# Coverage is combined over all three runs. Arguments (`make test ARGS="tests/operator -k nonce"`)
# run one plain pytest instead.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
start=$(date +%s)
hack/install.sh all
export PATH="$root/.venv/bin:$PATH"
echo "== ruff"; ruff check . && ruff format --check .
echo "== mypy"; mypy
echo "== pytest"
if [ "$#" -gt 0 ]; then
  status=0
  pytest -m "not performance" "$@" || status=$?
  echo "test command wall time: $(( $(date +%s) - start )) s"
  exit $status
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/k2-test.XXXXXX")"
trap 'rm -rf "$work"' EXIT
rm -f .coverage .coverage.*

# One pytest per group: its own --basetemp (pytest prunes numbered temp folders of other runs) and
# coverage data file, combined below. Started through Python with SIGINT handled: bash starts a
# background job with SIGINT ignored and Python keeps it so, and Ctrl-C would leave that group (and
# the servers its fixtures started) running; this way each group tears its fixtures down.
run_group() {
  local name=$1; shift
  local began=$(date +%s) rc=0
  COVERAGE_FILE="$root/.coverage.$name" python -c \
    'import signal, sys, pytest; signal.signal(signal.SIGINT, signal.default_int_handler); sys.exit(pytest.main())' \
    -m "not performance" -p no:cacheprovider --basetemp="$work/$name" --cov --cov-report= --durations=30 \
    "$@" || rc=$?
  echo "[$name] exit $rc after $(( $(date +%s) - began )) s"
  return $rc
}

status=0
echo "stage 1: Spark tiers here; control-plane tiers in the background (their output follows)"
run_group control-plane tests/chart tests/operator > "$work/control-plane.log" 2>&1 &
control_plane=$!
spark=0 cp=0
run_group spark tests/unit tests/fuzz tests/integration tests/images tests/monitoring tests/local || spark=$?
wait "$control_plane" || cp=$?
echo "== control-plane tiers (chart, operator)"
cat "$work/control-plane.log"
[ "$spark" = 0 ] && [ "$cp" = 0 ] || status=1
# pytest exits 2 when interrupted (Ctrl-C) or unable to run: then no later stage.
if [ "$spark" = 2 ] || [ "$cp" = 2 ]; then echo "stage 1 interrupted or could not run: e2e not run"; exit 2; fi
echo "stage 2: e2e alone"
run_group e2e tests/e2e || status=1

coverage combine > /dev/null || status=1  # the .coverage.<group> files of the three runs
coverage report --fail-under=85 | tail -n 3 || status=1
echo "test command wall time: $(( $(date +%s) - start )) s"
exit $status
