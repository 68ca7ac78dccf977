"""Tables that stay healthy for weeks: small files compacted as they are written, and files no
version needs any more removed with a retention that lagging readers can live with.

- Compaction: every job's session turns on Delta's auto compaction: after a commit, a partition
  that has gathered many small files (autoCompact.minNumFiles, 50) is rewritten into larger ones,
  `dataChange=false`, so streams reading the table skip the rewrite. Not optimized writes: they add
  a shuffle of every micro-batch, and Bronze is already the slowest stage per record; auto compaction
  pays once per ~50 files instead. A session setting rather than a table property: it applies to
  tables created before this change too, without a metadata commit racing the running writers.
- VACUUM: each job vacuums the tables it writes, once per `vacuum_interval_hours`, keeping
  `vacuum_retention_hours` (>= 7 days). A stream that reads a table (Silver reads Bronze, Gold reads
  Silver) needs the files of every version it has not processed yet, and compaction removes such
  files from the newest version; so the retention must exceed the longest a reader may lag. Seven
  days is Kafka's default retention too: a job down longer than that has lost data upstream anyway.
  Delta's own check (retentionDurationCheck) stays on and refuses a shorter retention; this module
  refuses it first, with the reason.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Final

from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from spark_jobs.contracts import DLQ_TABLE, GOLD_TABLE, bronze_table, silver_table
from spark_jobs.job_config import MIN_VACUUM_RETENTION_HOURS, JobConfig
from spark_jobs.logging_setup import job_logger

#: Delta's default deleted-file retention; never vacuum below it.
MIN_VACUUM_RETENTION: Final = timedelta(hours=MIN_VACUUM_RETENTION_HOURS)

#: Session settings for compaction (Delta 3.1+ OSS).
COMPACTION_CONF: Final[dict[str, str]] = {"spark.databricks.delta.autoCompact.enabled": "true"}


def owned_tables(config: JobConfig) -> tuple[str, ...]:
    """The tables a job writes and so maintains (the DLQ, written by both Silver jobs, by one)."""
    if config.layer == "bronze":
        return (bronze_table(config.exchange or ""),)
    if config.layer == "silver":
        own = (silver_table(config.exchange or ""),)
        return (*own, DLQ_TABLE) if config.exchange == "binance" else own
    return (GOLD_TABLE,)


def vacuum(spark: SparkSession, uri: str, retention: timedelta) -> None:
    """VACUUM a table, keeping files a version younger than `retention` still references."""
    if retention < MIN_VACUUM_RETENTION:
        raise ValueError(
            f"vacuum retention {retention} is below {MIN_VACUUM_RETENTION}: a stream reading {uri} "
            "that lags that long, or a restart from an older checkpoint, would find its files gone"
        )
    DeltaTable.forPath(spark, uri).vacuum(retention.total_seconds() / 3600)


class VacuumSchedule:
    """A daemon thread that vacuums a job's tables every `interval` (the first time one interval
    after the start, so a crash-looping job does not vacuum on every start)."""

    def __init__(
        self,
        spark: SparkSession,
        config: JobConfig,
        *,
        tables: Sequence[str] | None = None,
        run: Callable[[SparkSession, str, timedelta], None] = vacuum,
    ) -> None:
        self.spark = spark
        self.uris = [config.table_uri(t) for t in (owned_tables(config) if tables is None else tables)]
        self.interval = timedelta(hours=config.vacuum_interval_hours)
        self.retention = timedelta(hours=config.vacuum_retention_hours)
        self.run = run
        self.log = job_logger(config.job_name, config.layer, config.exchange)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"vacuum-{config.job_name}", daemon=True)
        self.vacuums = 0

    def start(self) -> VacuumSchedule:
        if self.interval.total_seconds() > 0:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval.total_seconds()):
            self.run_once()

    def run_once(self) -> None:
        for uri in self.uris:
            try:
                self.run(self.spark, uri, self.retention)
                self.vacuums += 1
                self.log.info(
                    "vacuumed", extra={"table": uri, "retention_hours": self.retention / timedelta(hours=1)}
                )
            except Exception as error:  # a failed VACUUM only leaves files behind: log, try next time
                self.log.warning("vacuum failed", extra={"table": uri, "error": str(error)[:2000]})
