"""The operator's own Prometheus metrics (the drivers serve theirs, see spark_jobs.metrics).

A pipeline's namespace is ``pipeline_namespace`` and its job ``k2_job``: ``namespace`` and ``job`` are
what Prometheus sets on the operator's own scrape target (spark_jobs.metrics.RESERVED_LABELS).
"""

from __future__ import annotations

import threading

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from k2_shared.contracts import DRIVER_FAILURE_REASONS

RECONCILIATIONS = Counter(
    "k2_operator_reconciliations_total", "Pipeline reconciliations run, by what triggered them", ["trigger"]
)
RECONCILE_ERRORS = Counter(
    "k2_operator_reconcile_errors_total", "Reconciliations that raised, by exception type", ["error"]
)
JOB_RESTARTS = Counter(
    "k2_operator_job_restarts_total",
    "Driver pods re-created after a failure, loss or start timeout",
    ["pipeline_namespace", "pipeline", "k2_job"],
)
JOB_FAILURES = Counter(
    "k2_operator_job_failures_total",
    "Driver failures by reason (contracts.DRIVER_FAILURE_REASONS): the job's termination message "
    "(checkpoint_write_failed, batch_failed), else what the pod shows",
    ["pipeline_namespace", "pipeline", "k2_job", "reason"],
)

#: Every metric family the operator exports, as a scrape shows it.
METRIC_NAMES: tuple[str, ...] = (
    "k2_operator_reconciliations_total",
    "k2_operator_reconcile_errors_total",
    "k2_operator_job_restarts_total",
    "k2_operator_job_failures_total",
    "k2_operator_pipelines",
    "k2_operator_reconcile_duration_seconds",
)


def count_failure(namespace: str, pipeline: str, job: str, reason: str) -> None:
    JOB_FAILURES.labels(namespace, pipeline, job, reason).inc()


def start_job_series(namespace: str, pipeline: str, jobs: list[str]) -> None:
    """Zero-valued series for every job and failure reason, so the first failure is an increase that
    rate()/increase() can see (a series born at 1 looks like no change)."""
    for job in jobs:
        JOB_RESTARTS.labels(namespace, pipeline, job)
        for reason in DRIVER_FAILURE_REASONS:
            JOB_FAILURES.labels(namespace, pipeline, job, reason)


PIPELINES = Gauge("k2_operator_pipelines", "StreamingPipelines by phase", ["phase"])
RECONCILE_SECONDS = Histogram(
    "k2_operator_reconcile_duration_seconds",
    "Wall time of one reconciliation",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

#: Every phase a pipeline can be in, so the gauge reports zeros rather than missing series.
_PHASES = ("Pending", "Starting", "Running", "Updating", "Degraded", "Failed", "Succeeded", "Suspended")


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
