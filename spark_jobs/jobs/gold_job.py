"""gold: both Silver streams -> Gold, deduplicated twice over.

1. In the stream: the Gold transform's watermark-bounded ``dropDuplicatesWithinWatermark`` on
   message_id (state stays bounded by the watermark, so no OOM over days).
2. At the table: an insert-only MERGE on message_id, pruned to the (exchange_date, exchange_hour)
   partitions the batch touches and, inside them, to the batch's event-time range. A trade replayed
   after its key left the state, or a batch re-run after a crash, matches an existing row and inserts
   nothing. The time range keeps a MERGE's cost flat through an hour: Delta skips the files whose
   min/max `timestamp` lie outside it (every earlier batch's files, for live data), where the
   partition alone would make the hour's last MERGE read the whole hour. It is exact because a
   message_id's timestamp never changes (both are the exchange's own record of one trade).

Gold has Delta's change data feed on: when a MERGE inserted only part of a batch, the rows it really
inserted are read back cheaply (only that commit's files) for exact per-exchange counts and
latencies; when it inserted the whole batch, the batch itself is what was inserted.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from spark_jobs.contracts import EXCHANGES, GOLD_TABLE, silver_table
from spark_jobs.job_config import JobConfig
from spark_jobs.jobs.batch_stats import batch_stats, record_batch_stats
from spark_jobs.jobs.delta_io import ensure_table
from spark_jobs.jobs.silver_job import ensure_silver_tables
from spark_jobs.jobs.step_timer import StepTimer
from spark_jobs.jobs.stream_options import apply_trigger, delta_source_options
from spark_jobs.jobs.table_schemas import GOLD_PARTITION_COLUMNS, gold_schema
from spark_jobs.logging_setup import job_logger
from spark_jobs.metrics import JobMetrics
from spark_jobs.transforms.gold import EVENT_TIME_COLUMN, to_gold

GOLD_TABLE_PROPERTIES = {"delta.enableChangeDataFeed": "true"}


def _sql_literal(value: Any) -> str:
    if isinstance(value, dt.date):
        return f"DATE'{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


def partition_predicate(partitions: list[tuple[Any, Any]]) -> str:
    """``(t.exchange_date = DATE'..' AND t.exchange_hour = 13) OR ...``: literal, so Delta prunes files."""
    date_col, hour_col = GOLD_PARTITION_COLUMNS
    return " OR ".join(
        f"(t.{date_col} = {_sql_literal(d)} AND t.{hour_col} = {_sql_literal(h)})" for d, h in partitions
    )


def _timestamp_literal(micros: int) -> str:
    """An exact UTC timestamp literal (zone written out, so no session or process time zone applies)."""
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=micros)
    return f"TIMESTAMP'{moment.strftime('%Y-%m-%d %H:%M:%S.%f')}+00:00'"


@dataclass(frozen=True)
class BatchSpan:
    """Where a batch's rows fall: its (exchange_date, exchange_hour) partitions and event-time range
    (epoch microseconds: collected timestamps would come back in the Python process's time zone),
    and how many rows it has."""

    partitions: list[tuple[Any, Any]]
    earliest_micros: int
    latest_micros: int
    rows: int = 0


def batch_span(source: DataFrame) -> BatchSpan | None:
    """The batch's span from ONE aggregation (its row count included); None for an empty batch."""
    date_col, hour_col = GOLD_PARTITION_COLUMNS
    micros = F.unix_micros(F.col(EVENT_TIME_COLUMN))
    rows = (
        source.groupBy(date_col, hour_col)
        .agg(F.min(micros).alias("earliest"), F.max(micros).alias("latest"), F.count(F.lit(1)).alias("n"))
        .collect()
    )
    if not rows:
        return None
    return BatchSpan(
        partitions=[(r[date_col], r[hour_col]) for r in rows],
        earliest_micros=min(int(r["earliest"]) for r in rows),
        latest_micros=max(int(r["latest"]) for r in rows),
        rows=sum(int(r["n"]) for r in rows),
    )


def merge_condition(span: BatchSpan, *, prune_by_event_time: bool = True) -> str:
    """The MERGE's match condition: message_id, within the batch's partitions and (by default) its
    event-time range, all literals so Delta prunes partitions and skips files by their statistics."""
    condition = f"t.message_id = s.message_id AND ({partition_predicate(span.partitions)})"
    if prune_by_event_time:
        condition += (
            f" AND t.{EVENT_TIME_COLUMN} >= {_timestamp_literal(span.earliest_micros)}"
            f" AND t.{EVENT_TIME_COLUMN} <= {_timestamp_literal(span.latest_micros)}"
        )
    return condition


class GoldBatchWriter:
    #: False only in the benchmark's baseline (hack/bench-merge.py): the MERGE then reads whole hours
    prune_by_event_time = True

    def __init__(self, spark: SparkSession, config: JobConfig, metrics: JobMetrics) -> None:
        self.spark = spark
        self.metrics = metrics
        self.uri = config.table_uri(GOLD_TABLE)
        self.log = job_logger(config.job_name, "gold", None)

    def __call__(self, batch_df: DataFrame, batch_id: int) -> None:
        timer = StepTimer()
        batch = batch_df.persist()
        try:
            span = batch_span(batch)
            if span is None:
                return
            timer.lap("span")
            arrived = span.rows
            # No dropDuplicates here: the stream's dropDuplicatesWithinWatermark already emits each
            # message_id at most once per batch, so the MERGE source has unique keys.
            inserted, stats = self._merge(batch, span, timer)
        finally:
            batch.unpersist()
        record_batch_stats(self.metrics, stats)
        self.metrics.duplicates_removed.labels(k2_job=self.metrics.job).inc(arrived - inserted)
        self.log.info(
            "batch committed",
            extra={
                "batch_id": batch_id,
                "rows_in": arrived,
                "rows_inserted": inserted,
                "duplicates_removed": arrived - inserted,
                "seconds": timer.total(),
                "steps": timer.steps,
            },
        )

    def _merge(self, source: DataFrame, span: BatchSpan, timer: StepTimer) -> tuple[int, dict[str, Any]]:
        # The MERGE's own result row says how many rows it inserted (no history reads before and
        # after it: those were two Spark jobs per batch, and auto compaction may commit in between).
        result = (
            DeltaTable.forPath(self.spark, self.uri)
            .alias("t")
            .merge(source.alias("s"), merge_condition(span, prune_by_event_time=self.prune_by_event_time))
            .whenNotMatchedInsertAll()
            .execute()
            .first()
        )
        committed = time.time()
        timer.lap("merge_commit")
        inserted = int(result["num_inserted_rows"]) if result is not None else 0
        if inserted == 0:
            return 0, {}
        if inserted == span.rows:  # the usual case: every row was new, so the source is the change
            stats = batch_stats(source, committed)
            timer.lap("stats")
            return inserted, stats
        version = newest_merge_version(self.spark, self.uri)
        changes = (
            self.spark.read.format("delta")
            .option("readChangeFeed", "true")
            .option("startingVersion", version)
            .option("endingVersion", version)
            .load(self.uri)
            .where("_change_type = 'insert'")
        )
        stats = batch_stats(changes, committed)
        timer.lap("stats")
        return inserted, stats


#: Newest Gold commits searched for the MERGE a batch just made (auto compaction may follow it).
MERGE_HISTORY_DEPTH = 10


def newest_merge_version(spark: SparkSession, uri: str) -> int:
    """The version of Gold's newest MERGE commit: only Gold's writer merges into Gold, and it is one
    thread, so right after its MERGE that commit is the one it made."""
    history = DeltaTable.forPath(spark, uri).history(MERGE_HISTORY_DEPTH)
    row = history.where("operation = 'MERGE'").select("version").orderBy(F.desc("version")).first()
    if row is None:
        raise RuntimeError(f"{uri}: no MERGE among its newest {MERGE_HISTORY_DEPTH} commits")
    return int(row["version"])


SHUFFLE_PARTITIONS = "spark.sql.shuffle.partitions"


def checkpoint_shuffle_partitions(spark: SparkSession, checkpoint_uri: str) -> int | None:
    """The shuffle partitions a streaming checkpoint froze (its newest offsets file's conf), or None
    for a new checkpoint. Spark restores this value on restart, whatever the session says: a stateful
    query's state is split into exactly that many partitions."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    offsets = jvm.org.apache.hadoop.fs.Path(f"{checkpoint_uri.rstrip('/')}/offsets")
    fs = offsets.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(offsets):
        return None
    batches = [s.getPath() for s in fs.listStatus(offsets) if s.getPath().getName().isdigit()]
    if not batches:
        return None
    newest = max(batches, key=lambda path: int(path.getName()))
    stream = fs.open(newest)
    try:
        reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(stream, "UTF-8"))
        reader.readLine()  # format version, e.g. "v1"
        metadata = json.loads(reader.readLine() or "{}")
    finally:
        stream.close()
    frozen = metadata.get("conf", {}).get(SHUFFLE_PARTITIONS)
    return int(frozen) if frozen is not None else None


def _warn_if_partitions_frozen(spark: SparkSession, config: JobConfig) -> None:
    frozen = checkpoint_shuffle_partitions(spark, config.checkpoint_uri)
    planned = int(spark.conf.get(SHUFFLE_PARTITIONS) or 0)
    if frozen is not None and frozen != planned:
        job_logger(config.job_name, "gold", None).warning(
            "gold's checkpoint keeps its shuffle partitions; the new value applies to a new checkpoint",
            extra={
                "checkpoint_shuffle_partitions": frozen,
                "configured_shuffle_partitions": planned,
                "checkpoint": config.checkpoint_uri,
            },
        )


def start_gold(spark: SparkSession, config: JobConfig, metrics: JobMetrics) -> StreamingQuery:
    # One watermark per exchange; the global one follows the slower exchange (see transforms/gold.py).
    spark.conf.set("spark.sql.streaming.multipleWatermarkPolicy", "min")
    _warn_if_partitions_frozen(spark, config)
    for exchange in EXCHANGES:
        ensure_silver_tables(spark, config, exchange)
    uri = config.table_uri(GOLD_TABLE)
    ensure_table(spark, uri, gold_schema(), GOLD_PARTITION_COLUMNS, GOLD_TABLE_PROPERTIES)
    silver_binance, silver_kraken = (
        spark.readStream.format("delta")
        .options(**delta_source_options(config))
        .load(config.table_uri(silver_table(e)))
        for e in EXCHANGES
    )
    writer = (
        to_gold(silver_binance, silver_kraken, config.gold_watermark)
        .writeStream.queryName(config.job_name)
        .option("checkpointLocation", config.checkpoint_uri)
        .foreachBatch(GoldBatchWriter(spark, config, metrics))
    )
    return apply_trigger(writer, config.trigger_interval).start()
