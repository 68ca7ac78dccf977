"""silver-<exchange>: Bronze Delta stream -> Silver + DLQ, in ONE foreachBatch.

Per batch: look up the writer schemas of the schema ids present (registry, cached; unknown ids are
left out so those records land in the DLQ), split the batch with the Silver transform, then append
both outputs with Delta's txnAppId/txnVersion so a batch re-run after a crash is written once.
Every Bronze row lands in exactly one of the two tables.
"""

from __future__ import annotations

import time

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from spark_jobs.contracts import DLQ_TABLE, bronze_table, silver_table
from spark_jobs.job_config import JobConfig
from spark_jobs.jobs.batch_stats import batch_stats, record_batch_stats
from spark_jobs.jobs.delta_io import append_exactly_once, ensure_table
from spark_jobs.jobs.query_identity import QueryIdLatch
from spark_jobs.jobs.schema_lookup import WriterSchemaCache
from spark_jobs.jobs.stream_options import apply_trigger, delta_source_options
from spark_jobs.jobs.table_schemas import (
    BRONZE_PARTITION_COLUMNS,
    DLQ_PARTITION_COLUMNS,
    bronze_schema,
    dlq_schema,
    silver_schema,
)
from spark_jobs.logging_setup import job_logger
from spark_jobs.metrics import JobMetrics
from spark_jobs.transforms.silver import classify_bronze, schema_ids_in, split_classified


def ensure_silver_tables(spark: SparkSession, config: JobConfig, exchange: str) -> None:
    ensure_table(spark, config.table_uri(silver_table(exchange)), silver_schema())
    ensure_table(spark, config.table_uri(DLQ_TABLE), dlq_schema(), DLQ_PARTITION_COLUMNS)


class SilverBatchWriter:
    """The foreachBatch function of one Silver job."""

    def __init__(self, config: JobConfig, metrics: JobMetrics, schemas: WriterSchemaCache) -> None:
        assert config.exchange is not None
        self.config = config
        self.exchange = config.exchange
        self.metrics = metrics
        self.schemas = schemas
        self.latch = QueryIdLatch(config.job_name)
        self.silver_uri = config.table_uri(silver_table(self.exchange))
        self.dlq_uri = config.table_uri(DLQ_TABLE)
        self.log = job_logger(config.job_name, "silver", self.exchange)

    def __call__(self, batch_df: DataFrame, batch_id: int) -> None:
        started = time.monotonic()
        bronze = batch_df.persist()
        try:
            if bronze.isEmpty():
                return
            writer_schemas = self.schemas.writer_schemas(schema_ids_in(bronze))
            # Persisted once: the decode and checks are the expensive part, and both outputs,
            # the DLQ counts and the batch statistics read them.
            classified = classify_bronze(
                bronze, self.exchange, writer_schemas, max_age=self.config.max_trade_age
            ).persist()
            try:
                self._write(classified, batch_id, started)
            finally:
                classified.unpersist()
        finally:
            bronze.unpersist()

    def _write(self, classified: DataFrame, batch_id: int, started: float) -> None:
        silver, dlq = split_classified(classified, self.exchange)
        dlq_counts = {r["error_type"]: int(r["count"]) for r in dlq.groupBy("error_type").count().collect()}
        app_id = self.latch.app_id()
        append_exactly_once(silver, self.silver_uri, app_id, batch_id)
        if dlq_counts:
            # An empty DLQ append would still cost a Delta commit per batch; a re-run of this batch
            # finds the same (no) bad rows, so skipping it keeps the write exactly-once.
            append_exactly_once(dlq, self.dlq_uri, app_id, batch_id, DLQ_PARTITION_COLUMNS)
        stats = batch_stats(silver, time.time())
        record_batch_stats(self.metrics, stats)
        self.metrics.record_dlq(self.exchange, dlq_counts)
        self.log.info(
            "batch committed",
            extra={
                "batch_id": batch_id,
                "silver_rows": sum(s.rows for s in stats.values()),
                "dlq_rows": sum(dlq_counts.values()),
                "dlq_by_error_type": dlq_counts,
                "seconds": round(time.monotonic() - started, 3),
            },
        )


def start_silver(spark: SparkSession, config: JobConfig, metrics: JobMetrics) -> StreamingQuery:
    assert config.exchange is not None
    bronze_uri = config.table_uri(bronze_table(config.exchange))
    ensure_table(spark, bronze_uri, bronze_schema(), BRONZE_PARTITION_COLUMNS)
    ensure_silver_tables(spark, config, config.exchange)
    batch_writer = SilverBatchWriter(config, metrics, WriterSchemaCache.for_url(config.schema_registry_url))
    writer = (
        spark.readStream.format("delta")
        .options(**delta_source_options(config))
        .load(bronze_uri)
        .writeStream.queryName(config.job_name)
        .option("checkpointLocation", config.checkpoint_uri)
        .foreachBatch(batch_writer)
    )
    query = apply_trigger(writer, config.trigger_interval).start()
    batch_writer.latch.set(str(query.id))
    return query
