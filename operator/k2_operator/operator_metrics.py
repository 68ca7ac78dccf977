"""The operator's own Prometheus metrics (the drivers serve theirs, see spark_jobs.metrics)."""

from __future__ import annotations

import threading

from prometheus_client import Counter, Gauge, Histogram, start_http_server

RECONCILIATIONS = Counter(
    "k2_operator_reconciliations_total", "Pipeline reconciliations run, by what triggered them", ["trigger"]
)
RECONCILE_ERRORS = Counter(
    "k2_operator_reconcile_errors_total", "Reconciliations that raised, by exception type", ["error"]
)
JOB_RESTARTS = Counter(
    "k2_operator_job_restarts_total",
    "Driver pods re-created after a failure, loss or start timeout",
    ["namespace", "pipeline", "job"],
)
PIPELINES = Gauge("k2_operator_pipelines", "StreamingPipelines by phase", ["phase"])
RECONCILE_SECONDS = Histogram(
    "k2_operator_reconcile_duration_seconds",
    "Wall time of one reconciliation",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

#: Every phase a pipeline can be in, so the gauge reports zeros rather than missing series.
_PHASES = ("Pending", "Starting", "Running", "Updating", "Degraded", "Failed", "Suspended")


class PhaseTracker:
    """Keeps the pipelines-by-phase gauge equal to the phases last reconciled."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._phases: dict[tuple[str, str], str] = {}
        self._publish()

    def set(self, namespace: str, name: str, phase: str) -> None:
        with self._lock:
            self._phases[(namespace, name)] = phase
            self._publish()

    def forget(self, namespace: str, name: str) -> None:
        with self._lock:
            self._phases.pop((namespace, name), None)
            self._publish()

    def _publish(self) -> None:
        for phase in _PHASES:
            PIPELINES.labels(phase).set(sum(p == phase for p in self._phases.values()))


PHASES = PhaseTracker()


def serve(port: int, address: str) -> None:
    start_http_server(port, addr=address)
