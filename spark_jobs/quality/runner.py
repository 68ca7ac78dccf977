"""Run the quality checks on their schedules against one pipeline's tables: read the tables (consistent
cuts for conservation), ask Kafka for its end offsets, call the pure checks, append the results to the
quality_checks Delta table and publish them as metrics. Shared by ``k2 quality`` (a long-running
process per pipeline on Kubernetes) and ``k2 local`` (a thread next to the five jobs)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from spark_jobs.contracts import (
    DLQ_TABLE,
    EXCHANGES,
    GOLD_TABLE,
    QUALITY_CHECKS_TABLE,
    bronze_table,
    raw_topic,
    silver_table,
)
from spark_jobs.metrics import QualityMetrics
from spark_jobs.quality import checks
from spark_jobs.quality.checks import CheckResult, Status
from spark_jobs.quality.snapshots import consistent_cut, read_version
from spark_jobs.transforms.silver import parse_duration

log = logging.getLogger("k2.quality")

#: The quality_checks Delta table (one row per check, scope and run).
QUALITY_CHECKS_SCHEMA = T.StructType(
    [
        T.StructField("check", T.StringType(), False),
        T.StructField("scope", T.StringType(), False),
        T.StructField("value", T.DoubleType(), True),
        T.StructField("threshold", T.DoubleType(), False),
        T.StructField("status", T.StringType(), False),
        T.StructField("checked_at", T.TimestampType(), False),
        T.StructField("detail", T.StringType(), False),
        T.StructField("checked_date", T.DateType(), False),
    ]
)
QUALITY_CHECKS_PARTITION_COLUMNS = ("checked_date",)

#: Default interval of each check, seconds (the issue's schedule): DLQ rate, freshness and
#: conservation every 5 minutes, duplicates (a full Gold scan) hourly.
DEFAULT_INTERVALS: Mapping[str, float] = {
    checks.DLQ_RATE: 300,
    checks.FRESHNESS: 300,
    checks.CONSERVATION: 300,
    checks.DUPLICATES: 3600,
}


@dataclass(frozen=True)
class QualitySettings:
    tables_uri: str
    checkpoints_uri: str
    intervals: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_INTERVALS))
    dlq_warning: float = 0.01
    dlq_critical: float = 0.05
    stale_after_seconds: float = 300.0
    gold_watermark: str = "10 minutes"
    kafka_bootstrap_servers: str | None = None  # None: freshness without Kafka's view
    topics: Mapping[str, str] = field(default_factory=lambda: {e: raw_topic(e) for e in EXCHANGES})

    @classmethod
    def with_interval(cls, interval_seconds: float, **kwargs: object) -> QualitySettings:
        """Every check at ``interval_seconds`` except duplicates, kept 12 times rarer (5 min : 1 h)."""
        intervals = {name: interval_seconds for name in DEFAULT_INTERVALS}
        intervals[checks.DUPLICATES] = interval_seconds * 12
        return cls(intervals=intervals, **kwargs)  # type: ignore[arg-type]

    def table_uri(self, table: str) -> str:
        return f"{self.tables_uri.rstrip('/')}/{table}"

    def checkpoint_uri(self, job: str) -> str:
        return f"{self.checkpoints_uri.rstrip('/')}/{job}"


def kafka_end_offsets(bootstrap_servers: str, topics: Mapping[str, str]) -> dict[str, dict[int, int]]:
    """exchange -> partition -> end offset (the next offset to be written) of each raw topic."""
    from confluent_kafka import Consumer, TopicPartition

    from spark_jobs.feeds.producer import sasl_settings

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": "k2-quality",
            "enable.auto.commit": False,
            **sasl_settings(os.environ),  # the operator sets these from spec.kafka.credentialsSecretRef
        }
    )
    try:
        ends: dict[str, dict[int, int]] = {}
        for exchange, topic in topics.items():
            metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
            if metadata is None or metadata.error is not None:
                continue
            ends[exchange] = {
                p: int(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1])
                for p in metadata.partitions
            }
        return ends
    finally:
        consumer.close()


class QualityRunner:
    """Runs the due checks of one pipeline; ``run_forever`` is the schedule loop."""

    def __init__(
        self,
        spark: SparkSession,
        settings: QualitySettings,
        metrics: QualityMetrics | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        names: Sequence[str] = checks.CHECK_NAMES,
    ) -> None:
        self.spark = spark
        self.names = tuple(names)
        self.settings = settings
        self.metrics = metrics or QualityMetrics()
        self.clock = clock
        self.last_results: dict[str, list[CheckResult]] = {}
        self.durations: dict[str, float] = {}
        self._next_due: dict[str, float] = {}
        #: Called with (check, results) after each run (tests and the live view follow runs with it).
        self.on_record: list[Callable[[str, list[CheckResult]], None]] = []

    # --- reading the tables ---------------------------------------------------------------------
    def _table(self, table: str) -> DataFrame:
        return self.spark.read.format("delta").load(self.settings.table_uri(table))

    def _bronze(self) -> dict[str, DataFrame]:
        return {e: self._table(bronze_table(e)) for e in EXCHANGES}

    def _silver(self) -> dict[str, DataFrame]:
        return {e: self._table(silver_table(e)) for e in EXCHANGES}

    # --- the checks -----------------------------------------------------------------------------
    def run_check(self, name: str, now: datetime) -> list[CheckResult]:
        s = self.settings
        if name == checks.DLQ_RATE:
            window = timedelta(seconds=s.intervals[checks.DLQ_RATE])
            return checks.dlq_rate(
                self._silver(), self._table(DLQ_TABLE), now=now, window=window,
                warning=s.dlq_warning, critical=s.dlq_critical,
            )  # fmt: skip
        if name == checks.FRESHNESS:
            ends = self._kafka_end_offsets()
            return checks.freshness(
                self._bronze(), self._silver(), self._table(GOLD_TABLE), now=now,
                stale_after=timedelta(seconds=s.stale_after_seconds), kafka_end_offsets=ends,
            )  # fmt: skip
        if name == checks.DUPLICATES:
            return checks.duplicates(self._table(GOLD_TABLE), now=now)
        if name == checks.CONSERVATION:
            return self._conservation(now)
        raise ValueError(f"unknown check {name!r}; known: {checks.CHECK_NAMES}")

    def _kafka_end_offsets(self) -> dict[str, dict[int, int]] | None:
        """Kafka's view for freshness; without it (no broker given, or unreachable) freshness still
        runs, only unable to tell a dead feed from a stuck Bronze job."""
        s = self.settings
        if not s.kafka_bootstrap_servers:
            return None
        try:
            return kafka_end_offsets(s.kafka_bootstrap_servers, s.topics)
        except Exception:
            log.exception("freshness: Kafka end offsets unavailable")
            return None

    def _conservation(self, now: datetime) -> list[CheckResult]:
        s = self.settings
        results: list[CheckResult] = []
        dlq_uri = s.table_uri(DLQ_TABLE)
        for exchange in EXCHANGES:
            bronze_uri, silver_uri = s.table_uri(bronze_table(exchange)), s.table_uri(silver_table(exchange))
            cut = consistent_cut(
                self.spark, s.checkpoint_uri(f"silver-{exchange}"), [bronze_uri], [silver_uri, dlq_uri]
            )
            if cut is None:
                log.info("conservation: no consistent cut of silver-%s yet", exchange)
                continue
            bronze = read_version(
                self.spark, bronze_uri, cut.source_versions[bronze_uri], self._table(bronze_table(exchange))
            )
            silver = read_version(
                self.spark, silver_uri, cut.sink_versions[silver_uri], self._table(silver_table(exchange))
            )
            dlq = read_version(self.spark, dlq_uri, cut.sink_versions[dlq_uri], self._table(DLQ_TABLE))
            results += checks.bronze_conservation(
                {exchange: bronze}, {exchange: silver}, dlq.where(dlq.exchange == exchange), now=now
            )
        gold_uri = s.table_uri(GOLD_TABLE)
        silver_uris = {e: s.table_uri(silver_table(e)) for e in EXCHANGES}
        cut = consistent_cut(self.spark, s.checkpoint_uri("gold"), list(silver_uris.values()), [gold_uri])
        if cut is None:
            log.info("conservation: no consistent cut of gold yet")
            return results
        silver_seen: dict[str, DataFrame] = {
            e: read_version(self.spark, uri, cut.source_versions[uri], self._table(silver_table(e)))
            for e, uri in silver_uris.items()
        }
        gold = read_version(self.spark, gold_uri, cut.sink_versions[gold_uri], self._table(GOLD_TABLE))
        watermark = parse_duration(s.gold_watermark)
        return results + checks.gold_conservation(silver_seen, gold, now=now, watermark=watermark)

    # --- recording ------------------------------------------------------------------------------
    def record(self, name: str, results: Sequence[CheckResult], duration_seconds: float) -> None:
        self.last_results[name] = list(results)
        self.durations[name] = duration_seconds
        self.metrics.record_run(
            name, [(r.scope, int(r.status), r.value) for r in results], duration_seconds, time.time()
        )
        if results:
            write_results(self.spark, self.settings.table_uri(QUALITY_CHECKS_TABLE), results)
        for callback in self.on_record:
            callback(name, list(results))
        bad = [r for r in results if r.status is not Status.OK]
        log.info(
            "check ran",
            extra={
                "check": name,
                "scopes": len(results),
                "status": checks.worst(results).label,
                "not_ok": [f"{r.scope}: {r.status.label} ({r.detail})" for r in bad][:20],
                "seconds": round(duration_seconds, 3),
            },
        )

    def run_once(self, names: Sequence[str] | None = None) -> dict[str, list[CheckResult]]:
        """Run ``names`` (default: this runner's checks) now, in order; record and return the results."""
        ran = {}
        for name in names or self.names:
            started = time.monotonic()
            results = self.run_check(name, self.clock())
            self.record(name, results, time.monotonic() - started)
            ran[name] = results
        return ran

    def run_due(self) -> list[str]:
        """Run every check whose interval has passed since its last run (all of them the first time)."""
        now = time.monotonic()
        due = [n for n in self.names if now >= self._next_due.get(n, 0)]
        for name in due:
            self._next_due[name] = now + self.settings.intervals[name]
            try:
                self.run_once([name])
            except Exception:  # a failed check must not stop the others or the schedule
                log.exception("check %s failed", name)
        return due

    def run_forever(self, stop: threading.Event, first_delay: float = 0.0) -> None:
        if stop.wait(first_delay):
            return
        while not stop.is_set():
            self.run_due()
            nearest = min(self._next_due.values(), default=time.monotonic() + 1)
            stop.wait(max(0.5, nearest - time.monotonic()))


def results_frame(spark: SparkSession, results: Sequence[CheckResult]) -> DataFrame:
    rows = [
        (
            r.check,
            r.scope,
            r.value,
            r.threshold,
            r.status.label,
            r.checked_at,
            r.detail,
            r.checked_at.astimezone(UTC).date(),
        )
        for r in results
    ]
    return spark.createDataFrame(rows, QUALITY_CHECKS_SCHEMA)


def write_results(spark: SparkSession, uri: str, results: Sequence[CheckResult]) -> None:
    from spark_jobs.jobs.delta_io import ensure_table

    ensure_table(spark, uri, QUALITY_CHECKS_SCHEMA, QUALITY_CHECKS_PARTITION_COLUMNS)
    results_frame(spark, results).write.format("delta").mode("append").partitionBy(
        *QUALITY_CHECKS_PARTITION_COLUMNS
    ).save(uri)
