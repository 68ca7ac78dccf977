#!/usr/bin/env bash
# Pipeline benchmark (not part of the test run): Bronze ingest vs Kafka's ConsumerPerformance,
# end-to-end latency at fixed offered rates, Gold dedup state over time, time from `k2 local` to the
# first Gold row, and where a micro-batch's seconds go per job. See hack/bench_pipeline.py.
#   hack/bench-pipeline.sh [--records N] [--rates 100,2500,5000] [--duration 600] [--watermark "2 minutes"]
#                          [--skip-ingest] [--skip-first-gold]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
hack/install.sh local
exec .venv/bin/python hack/bench_pipeline.py "$@"
