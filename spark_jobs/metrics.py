"""Every Prometheus metric K2's streaming jobs export: the one module dashboards, alert rules and tests
import names from.

Each job owns a :class:`JobMetrics` with its OWN registry, served on its own port. On Kubernetes one
driver runs one job, so that is one registry per process; locally five jobs share one Spark
application (one process) and still serve five separate endpoints (ports 8000-8004), so a scrape of
port 8002 shows exactly what silver-binance did.

Label conventions: ``k2_job`` is a name from ``contracts.JOBS``; ``exchange`` is binance/kraken (Gold
counts per exchange too, from the rows it wrote); ``layer`` is bronze/silver/gold/dlq. No metric uses
``job``, ``instance``, ``namespace`` or ``pod`` (:data:`RESERVED_LABELS`): Prometheus sets those on every
scrape target, and a clash renames ours to ``exported_job`` or (with honorLabels) overwrites the
target's.

A failure that stops a query (``k2_batches_failed_total``, ``k2_checkpoint_failures_total``) is
counted here just before the driver exits, so on Kubernetes no scrape may see it: the job also writes
the reason to its termination message, and the operator counts it per job and reason
(``k2_operator_job_failures_total``), which outlives the driver. Alerts use both.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from spark_jobs.contracts import EXCHANGES

# --- Names (the `_total` suffix is added by prometheus_client to counters) -------------------------
RECORDS_PROCESSED = "k2_records_processed_total"
DLQ_RECORDS = "k2_dlq_records_total"
BATCH_PROCESSING_DURATION = "k2_batch_processing_duration_seconds"
E2E_LATENCY = "k2_e2e_latency_seconds"
LAST_PROCESSED_EVENT_TIMESTAMP = "k2_last_processed_event_timestamp_seconds"
CHECKPOINT_FAILURES = "k2_checkpoint_failures_total"
INPUT_ROWS_PER_SECOND = "k2_input_rows_per_second"
BATCHES_FAILED = "k2_batches_failed_total"
DUPLICATES_REMOVED = "k2_duplicates_removed_total"
LATE_ROWS_DROPPED = "k2_late_rows_dropped_total"
STATE_ROWS = "k2_state_rows"
CONSUMER_LAG = "k2_consumer_lag_records"

#: Label names Prometheus attaches to every scraped series; a K2 metric must not use them.
RESERVED_LABELS: frozenset[str] = frozenset({"job", "instance", "namespace", "pod"})

# The data-quality checks (served by `k2 quality`, locally by `k2 local` on its own port).
QUALITY_CHECK_STATUS = "k2_quality_check_status"
QUALITY_CHECK_VALUE = "k2_quality_check_value"
QUALITY_CHECK_DURATION = "k2_quality_check_duration_seconds"
QUALITY_CHECK_LAST_RUN = "k2_quality_check_last_run_timestamp_seconds"

#: Every metric family name a job exports, as a scrape shows it (histograms add _bucket/_sum/_count).
METRIC_NAMES: tuple[str, ...] = (
    RECORDS_PROCESSED,
    DLQ_RECORDS,
    BATCH_PROCESSING_DURATION,
    E2E_LATENCY,
    LAST_PROCESSED_EVENT_TIMESTAMP,
    CHECKPOINT_FAILURES,
    INPUT_ROWS_PER_SECOND,
    BATCHES_FAILED,
    DUPLICATES_REMOVED,
    LATE_ROWS_DROPPED,
    STATE_ROWS,
    CONSUMER_LAG,
)

#: Spark's own JVM metrics (JvmSource, served by the driver's PrometheusServlet on the `spark-ui`
#: port at /metrics/prometheus), as the dashboards use them. The servlet names a gauge
#: ``metrics_<spark.metrics.namespace>_driver_<source>_<name>_Value``; K2's namespace is ``k2``.
SPARK_JVM_HEAP_USED = "metrics_k2_driver_jvm_heap_used_Value"
SPARK_JVM_HEAP_MAX = "metrics_k2_driver_jvm_heap_max_Value"
#: Spark's executor metrics (spark.ui.prometheus.enabled: /metrics/executors/prometheus on the same
#: port), one series per executor (``executor_id``; the driver is ``driver``).
SPARK_EXECUTOR_CORES = "metrics_executor_totalCores"
SPARK_METRIC_NAMES: tuple[str, ...] = (SPARK_JVM_HEAP_USED, SPARK_JVM_HEAP_MAX, SPARK_EXECUTOR_CORES)

#: Every metric family the quality checks export.
QUALITY_METRIC_NAMES: tuple[str, ...] = (
    QUALITY_CHECK_STATUS,
    QUALITY_CHECK_VALUE,
    QUALITY_CHECK_DURATION,
    QUALITY_CHECK_LAST_RUN,
)

#: Buckets of the batch-duration histogram (seconds): micro-batches take 0.1 s to a few minutes.
BATCH_DURATION_BUCKETS: tuple[float, ...] = (
    0.1,
    0.25,
    0.5,
    1,
    2,
    3,
    5,
    7.5,
    10,
    15,
    20,
    30,
    45,
    60,
    120,
    300,
)

#: Buckets of the end-to-end latency histogram (seconds), fine enough between 1 s and 60 s that
#: p50/p99 interpolated from them are within a second or two of the exact value at default triggers.
E2E_LATENCY_BUCKETS: tuple[float, ...] = (
    0.25, 0.5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 16, 18, 20, 25, 30, 35, 40, 50, 60, 75, 90, 120,
    180, 240, 300, 600, 1800, 3600,
)  # fmt: skip


def _strip_total(name: str) -> str:
    return name[: -len("_total")] if name.endswith("_total") else name


@dataclass(frozen=True)
class LatencyBucketCount:
    """Rows of one batch whose latency fell in one histogram bucket (aggregated in Spark, not Python)."""

    upper_bound: float  # the bucket's `le`; math.inf for the overflow bucket
    count: int
    sum_seconds: float


class JobMetrics:
    """The metrics of one streaming job, in their own registry."""

    def __init__(self, job: str, layer: str, exchange: str | None) -> None:
        self.job = job
        self.layer = layer
        self.exchange = exchange or "all"
        self.registry = CollectorRegistry(auto_describe=True)
        self._lock = threading.Lock()
        r = self.registry
        self.records_processed = Counter(
            _strip_total(RECORDS_PROCESSED),
            "Records committed to a layer's table by a job",
            ["k2_job", "exchange", "layer"],
            registry=r,
        )
        self.dlq_records = Counter(
            _strip_total(DLQ_RECORDS),
            "Records written to the dead-letter queue, by reason",
            ["exchange", "error_type"],
            registry=r,
        )
        self.batch_duration = Histogram(
            BATCH_PROCESSING_DURATION,
            "Wall time of one micro-batch (Spark's triggerExecution)",
            ["k2_job"],
            buckets=BATCH_DURATION_BUCKETS,
            registry=r,
        )
        self.e2e_latency = Histogram(
            E2E_LATENCY,
            "Exchange trade time to commit in the layer's table, per record",
            ["k2_job", "exchange", "layer"],
            buckets=E2E_LATENCY_BUCKETS,
            registry=r,
        )
        self.last_event_timestamp = Gauge(
            LAST_PROCESSED_EVENT_TIMESTAMP,
            "Newest event time (epoch seconds) committed by the job; Bronze uses the Kafka timestamp",
            ["k2_job", "exchange", "layer"],
            registry=r,
        )
        self.checkpoint_failures = Counter(
            _strip_total(CHECKPOINT_FAILURES),
            "Queries that stopped on a checkpoint (offset/commit log) failure",
            ["k2_job"],
            registry=r,
        )
        self.input_rows_per_second = Gauge(
            INPUT_ROWS_PER_SECOND, "Input rate of the last micro-batch", ["k2_job"], registry=r
        )
        self.batches_failed = Counter(
            _strip_total(BATCHES_FAILED),
            "Micro-batches that raised (the query stops)",
            ["k2_job"],
            registry=r,
        )
        self.duplicates_removed = Counter(
            _strip_total(DUPLICATES_REMOVED),
            "Rows Gold did not insert because their message_id was already seen (state or table)",
            ["k2_job"],
            registry=r,
        )
        self.late_rows_dropped = Counter(
            _strip_total(LATE_ROWS_DROPPED),
            "Rows dropped by the Gold watermark (older than the watermark when they arrived)",
            ["k2_job"],
            registry=r,
        )
        self.state_rows = Gauge(
            STATE_ROWS, "Rows held in the job's streaming state (Gold dedup keys)", ["k2_job"], registry=r
        )
        self.consumer_lag = Gauge(
            CONSUMER_LAG,
            "Records of a Kafka topic behind its latest offset after the job's last micro-batch",
            ["k2_job", "topic"],
            registry=r,
        )
        # Children created up front so a scrape shows zeros before the first batch.
        for counter in (self.checkpoint_failures, self.batches_failed, self.duplicates_removed):
            counter.labels(k2_job=job)
        self.late_rows_dropped.labels(k2_job=job)
        self.state_rows.labels(k2_job=job)
        # The same for the records a job commits (Silver: to Silver and the DLQ), so the first records
        # are an increase rate()/increase() see, not a series born at its first value.
        for committed_layer in (layer, "dlq") if layer == "silver" else (layer,):
            for committed_exchange in (exchange,) if exchange else EXCHANGES:  # Gold: per exchange
                self.records_processed.labels(k2_job=job, exchange=committed_exchange, layer=committed_layer)

    # --- recording -----------------------------------------------------------------------------
    def record_committed(self, exchange: str, count: int, layer: str | None = None) -> None:
        if count:
            self.records_processed.labels(k2_job=self.job, exchange=exchange, layer=layer or self.layer).inc(
                count
            )

    def record_dlq(self, exchange: str, counts_by_error_type: Mapping[str, int]) -> None:
        for error_type, count in counts_by_error_type.items():
            if count:
                self.dlq_records.labels(exchange=exchange, error_type=error_type).inc(count)
        self.record_committed(exchange, sum(counts_by_error_type.values()), layer="dlq")

    def record_latencies(self, exchange: str, buckets: Iterable[LatencyBucketCount]) -> None:
        """Add a batch's latencies to the histogram, exactly: Spark aggregated them per bucket."""
        child = self.e2e_latency.labels(k2_job=self.job, exchange=exchange, layer=self.layer)
        with self._lock:
            for bucket in buckets:
                if bucket.count <= 0:
                    continue
                # Every row of a bucket lies inside it, so observing the bucket's mean `count` times
                # reproduces both the bucket counts and the sum exactly.
                mean = bucket.sum_seconds / bucket.count
                for _ in range(bucket.count):
                    child.observe(mean)

    def record_last_event_time(self, exchange: str, epoch_seconds: float) -> None:
        gauge = self.last_event_timestamp.labels(k2_job=self.job, exchange=exchange, layer=self.layer)
        gauge.set(max(epoch_seconds, _gauge_value(gauge)))

    def record_progress(self, duration_seconds: float | None, input_rows_per_second: float | None) -> None:
        if duration_seconds is not None:
            self.batch_duration.labels(k2_job=self.job).observe(duration_seconds)
        if input_rows_per_second is not None:
            self.input_rows_per_second.labels(k2_job=self.job).set(input_rows_per_second)

    def record_consumer_lag(self, topic: str, records_behind: int) -> None:
        self.consumer_lag.labels(k2_job=self.job, topic=topic).set(records_behind)

    def record_failure(self, checkpoint_related: bool) -> None:
        self.batches_failed.labels(k2_job=self.job).inc()
        if checkpoint_related:
            self.checkpoint_failures.labels(k2_job=self.job).inc()

    # --- reading (the local runner's progress view and tests) -----------------------------------
    def value(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` whose labels include ``labels`` (0 when none)."""
        total = 0.0
        for family in self.registry.collect():
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    total += sample.value
        return total

    def latency_buckets(self, exchange: str | None = None) -> list[tuple[float, float]]:
        """Cumulative (le, count) pairs of the e2e latency histogram, summed over exchanges."""
        cumulative: dict[float, float] = {}
        for family in self.registry.collect():
            for sample in family.samples:
                if sample.name != E2E_LATENCY + "_bucket":
                    continue
                if exchange is not None and sample.labels.get("exchange") != exchange:
                    continue
                le = float(sample.labels["le"])
                cumulative[le] = cumulative.get(le, 0.0) + sample.value
        return sorted(cumulative.items())

    def serve(self, port: int, addr: str = "0.0.0.0") -> int:
        """Serve /metrics on ``port`` (0: any free port) from a daemon thread; returns the port."""
        server, _thread = start_http_server(port, addr=addr, registry=self.registry)
        return int(server.server_port)


class QualityMetrics:
    """The data-quality checks' metrics, in their own registry: per check and scope the status
    (0 ok, 1 warning, 2 critical) and measured value; per check its last run and its duration."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.status = Gauge(
            QUALITY_CHECK_STATUS,
            "Status of a data-quality check per scope: 0 ok, 1 warning, 2 critical",
            ["check", "scope"],
            registry=r,
        )
        self.value = Gauge(
            QUALITY_CHECK_VALUE,
            "Measured value of a data-quality check per scope (rate, seconds, rows)",
            ["check", "scope"],
            registry=r,
        )
        self.duration = Gauge(
            QUALITY_CHECK_DURATION, "Wall time of the last run of a check", ["check"], registry=r
        )
        self.last_run = Gauge(
            QUALITY_CHECK_LAST_RUN, "When a check last ran (epoch seconds)", ["check"], registry=r
        )
        self._scopes: dict[str, set[str]] = {}

    def record_run(
        self,
        check: str,
        results: Iterable[tuple[str, int, float | None]],
        duration_seconds: float,
        finished_epoch: float,
    ) -> None:
        """One run of ``check``: (scope, status, value) per scope. Scopes the run no longer reports
        (a symbol that left the table) are removed, so no stale series keeps an old status."""
        seen = set()
        for scope, status, value in results:
            seen.add(scope)
            self.status.labels(check=check, scope=scope).set(status)
            self.value.labels(check=check, scope=scope).set(float("nan") if value is None else value)
        for scope in self._scopes.get(check, set()) - seen:
            self.status.remove(check, scope)
            self.value.remove(check, scope)
        self._scopes[check] = seen
        self.duration.labels(check=check).set(duration_seconds)
        self.last_run.labels(check=check).set(finished_epoch)

    def serve(self, port: int, addr: str = "0.0.0.0") -> int:
        server, _thread = start_http_server(port, addr=addr, registry=self.registry)
        return int(server.server_port)


def _gauge_value(gauge: Gauge) -> float:
    return float(gauge._value.get())


def bucket_quantile(quantile: float, cumulative: Sequence[tuple[float, float]]) -> float | None:
    """Prometheus' histogram_quantile over cumulative (le, count) pairs: linear within a bucket."""
    if not cumulative or cumulative[-1][1] <= 0:
        return None
    total = cumulative[-1][1]
    rank = quantile * total
    counts = [count for _, count in cumulative]
    index = bisect.bisect_left(counts, rank)
    index = min(index, len(cumulative) - 1)
    upper, count_upper = cumulative[index]
    if upper == float("inf"):
        return cumulative[index - 1][0] if index > 0 else None
    lower, count_lower = (0.0, 0.0) if index == 0 else cumulative[index - 1]
    if count_upper == count_lower:
        return upper
    return lower + (upper - lower) * (rank - count_lower) / (count_upper - count_lower)


def is_checkpoint_failure(exception_text: str | None) -> bool:
    """Whether a query's termination exception came from its checkpoint (offset/commit log) I/O."""
    if not exception_text:
        return False
    markers = ("checkpoint", "HDFSMetadataLog", "CheckpointFileManager", "OffsetSeqLog", "CommitLog")
    return any(marker.lower() in exception_text.lower() for marker in markers)


def spark_prometheus_conf() -> dict[str, str]:
    """Turn on Spark's own PrometheusServlet (driver UI port, named `spark-ui` on a driver pod:
    /metrics/prometheus) and executor metrics (/metrics/executors/prometheus); names carry the fixed
    ``spark.metrics.namespace``."""
    servlet = "spark.metrics.conf.*.sink.prometheusServlet"
    return {
        "spark.ui.prometheus.enabled": "true",
        f"{servlet}.class": "org.apache.spark.metrics.sink.PrometheusServlet",
        f"{servlet}.path": "/metrics/prometheus",
        "spark.sql.streaming.metricsEnabled": "true",
        # The JVM source (heap, GC) on the driver and executors; the servlet serves the driver's.
        "spark.metrics.conf.*.source.jvm.class": "org.apache.spark.metrics.source.JvmSource",
    }
