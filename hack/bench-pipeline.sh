#!/usr/bin/env bash
# Pipeline benchmark (not part of the test run): Bronze ingest vs Kafka's ConsumerPerformance,
# end-to-end latency at fixed offered rates, Gold dedup state over time. See hack/bench_pipeline.py.
#   hack/bench-pipeline.sh [--records N] [--rates 5000,2000] [--duration 600] [--watermark "2 minutes"]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
hack/install.sh local
exec .venv/bin/python hack/bench_pipeline.py "$@"
