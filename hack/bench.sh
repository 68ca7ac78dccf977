#!/usr/bin/env bash
# `make bench`: every benchmark in hack/ (hack/bench-*.sh, and hack/bench-*.py run with the venv's
# python), one after another, each with its defaults; none is part of the test run. To pass options,
# run a script directly (e.g. hack/bench-pipeline.sh --duration 120).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
hack/install.sh local
status=0
for script in hack/bench-*.sh hack/bench-*.py; do
  [ -e "$script" ] || continue
  echo "== $script"
  case "$script" in
    *.sh) "$script" || status=$? ;;
    *.py) .venv/bin/python "$script" || status=$? ;;
  esac
done
exit $status
