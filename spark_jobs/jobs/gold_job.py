"""gold: both Silver streams -> Gold, deduplicated twice over.

1. In the stream: the Gold transform's watermark-bounded ``dropDuplicatesWithinWatermark`` on
   message_id (state stays bounded by the watermark, so no OOM over days).
2. At the table: an insert-only MERGE on message_id, pruned to the (exchange_date, exchange_hour)
   partitions the batch touches. A trade replayed after its key left the state, or a batch re-run
   after a crash, matches an existing row and inserts nothing.

Gold has Delta's change data feed on: when a MERGE inserted only part of a batch, the rows it really
inserted are read back cheaply (only that commit's files) for exact per-exchange counts and
latencies; when it inserted the whole batch, the batch itself is what was inserted.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from spark_jobs.contracts import EXCHANGES, GOLD_TABLE, silver_table
from spark_jobs.job_config import JobConfig
from spark_jobs.jobs.batch_stats import batch_stats, record_batch_stats
from spark_jobs.jobs.delta_io import ensure_table, latest_commit
from spark_jobs.jobs.silver_job import ensure_silver_tables
from spark_jobs.jobs.stream_options import apply_trigger, delta_source_options
from spark_jobs.jobs.table_schemas import GOLD_PARTITION_COLUMNS, gold_schema
from spark_jobs.logging_setup import job_logger
from spark_jobs.metrics import JobMetrics
from spark_jobs.transforms.gold import to_gold

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


class GoldBatchWriter:
    def __init__(self, spark: SparkSession, config: JobConfig, metrics: JobMetrics) -> None:
        self.spark = spark
        self.metrics = metrics
        self.uri = config.table_uri(GOLD_TABLE)
        self.log = job_logger(config.job_name, "gold", None)

    def __call__(self, batch_df: DataFrame, batch_id: int) -> None:
        started = time.monotonic()
        batch = batch_df.persist()
        try:
            arrived = batch.count()
            if arrived == 0:
                return
            # No dropDuplicates here: the stream's dropDuplicatesWithinWatermark already emits each
            # message_id at most once per batch, so the MERGE source has unique keys.
            inserted, stats = self._merge(batch, arrived)
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
                "seconds": round(time.monotonic() - started, 3),
            },
        )

    def _merge(self, source: DataFrame, source_rows: int) -> tuple[int, dict[str, Any]]:
        partitions = [(r[0], r[1]) for r in source.select(*GOLD_PARTITION_COLUMNS).distinct().collect()]
        before, _ = latest_commit(self.spark, self.uri)
        (
            DeltaTable.forPath(self.spark, self.uri)
            .alias("t")
            .merge(source.alias("s"), f"t.message_id = s.message_id AND ({partition_predicate(partitions)})")
            .whenNotMatchedInsertAll()
            .execute()
        )
        committed = time.time()
        version, operation_metrics = latest_commit(self.spark, self.uri)
        inserted = int(operation_metrics.get("numTargetRowsInserted", 0)) if version > before else 0
        if inserted == 0:
            return 0, {}
        if inserted == source_rows:  # the usual case: every row was new, so the source is the change
            return inserted, batch_stats(source, committed)
        changes = (
            self.spark.read.format("delta")
            .option("readChangeFeed", "true")
            .option("startingVersion", version)
            .option("endingVersion", version)
            .load(self.uri)
            .where("_change_type = 'insert'")
        )
        return inserted, batch_stats(changes, committed)


def start_gold(spark: SparkSession, config: JobConfig, metrics: JobMetrics) -> StreamingQuery:
    # One watermark per exchange; the global one follows the slower exchange (see transforms/gold.py).
    spark.conf.set("spark.sql.streaming.multipleWatermarkPolicy", "min")
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
