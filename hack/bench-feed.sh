#!/usr/bin/env bash
# Feed produce-rate benchmark (not part of the test run): the synthetic feed through the full
# serializer path vs Kafka's ProducerPerformance, same record size, same broker, same run.
#   hack/bench-feed.sh [--records N]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
hack/install.sh local
exec .venv/bin/python hack/bench_feed.py "$@"
