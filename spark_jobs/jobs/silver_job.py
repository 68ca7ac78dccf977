"""silver-<exchange>: Bronze Delta stream -> Silver + DLQ, in ONE foreachBatch.

Per batch: look up the writer schemas of the schema ids present (registry, cached; unknown ids are
left out so those records land in the DLQ), split the batch with the Silver transform, then append
both outputs with Delta's txnAppId/txnVersion so a batch re-run after a crash is written once.
Every Bronze row lands in exactly one of the two tables.

A re-run classifies every row exactly as the first attempt did, so a crash between the Silver and the
DLQ commit cannot lose or double a row: the checks measure from each row's Kafka timestamp, the
validation time is the micro-batch's timestamp (kept in the offset log, the same on a re-run), and
the schema ids the first attempt could decode are written into its Silver commit (userMetadata). A
re-run whose Silver commit already exists decodes with exactly those ids, so an id registered in
between still goes to the DLQ as unknown_schema_id (replay Bronze to decode it), as it did at first.
"""

from __future__ import annotations

import json
import time
from typing import Final

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from spark_jobs.contracts import DLQ_TABLE, bronze_table, silver_table
from spark_jobs.job_config import JobConfig
from spark_jobs.jobs.batch_stats import batch_stats, record_batch_stats
from spark_jobs.jobs.delta_io import append_exactly_once, ensure_table
from spark_jobs.jobs.query_identity import QueryIdLatch
from spark_jobs.jobs.schema_lookup import WriterSchemaCache
from spark_jobs.jobs.step_timer import StepTimer
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
from spark_jobs.transforms.silver import (
    Classification,
    classification,
    rows_and_schema_ids,
    split_classified,
)

#: Added to the Bronze stream: current_timestamp() in a streaming plan is the micro-batch's timestamp
#: from the offset log, so a re-run of a batch sees the same value.
BATCH_TIMESTAMP_COLUMN: Final = "_batch_timestamp"
#: Newest Silver commits searched for a re-run batch's own commit (table maintenance may add a few).
RERUN_HISTORY_DEPTH: Final = 20
#: Sets of writer schemas whose Silver expressions a job keeps (a batch uses the ids it holds).
MAX_CACHED_CLASSIFICATIONS: Final = 16


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
        self._previous_batch_id: int | None = None
        #: The Silver transform's expressions per set of writer schemas, built once (transforms/silver.py).
        self._classifications: dict[tuple[tuple[int, str], ...], Classification] = {}

    def classification(self, writer_schemas: dict[int, str]) -> Classification:
        key = tuple(sorted(writer_schemas.items()))
        if key not in self._classifications:
            if len(self._classifications) >= MAX_CACHED_CLASSIFICATIONS:
                self._classifications.clear()
            self._classifications[key] = classification(
                self.exchange,
                writer_schemas,
                max_age=self.config.max_trade_age,
                validated_at=F.col(BATCH_TIMESTAMP_COLUMN),
            )
        return self._classifications[key]

    def __call__(self, batch_df: DataFrame, batch_id: int) -> None:
        timer = StepTimer()
        bronze = batch_df.persist()
        try:
            rows, present_ids = rows_and_schema_ids(bronze)
            if rows == 0:
                self._previous_batch_id = batch_id
                return
            timer.lap("read")
            app_id = self.latch.app_id()
            writer_schemas = self._writer_schemas(bronze, present_ids, app_id, batch_id)
            timer.lap("schema_ids")
            # Persisted once: the decode and checks are the expensive part, and both outputs,
            # the DLQ counts and the batch statistics read them.
            classified = self.classification(writer_schemas).apply(bronze).persist()
            try:
                self._write(classified, app_id, batch_id, sorted(writer_schemas), timer)
            finally:
                classified.unpersist()
        finally:
            bronze.unpersist()
        self._previous_batch_id = batch_id

    def _writer_schemas(
        self, bronze: DataFrame, present_ids: list[int], app_id: str, batch_id: int
    ) -> dict[int, str]:
        """The writer schemas to decode with: those the batch's first attempt used when this is a
        re-run whose Silver commit exists, else those the registry knows now."""
        if self._previous_batch_id is None or batch_id != self._previous_batch_id + 1:
            # Only the first batch after a (re)start can be a re-run.
            recorded = committed_schema_ids(bronze.sparkSession, self.silver_uri, app_id, batch_id)
            if recorded is not None:
                found = self.schemas.writer_schemas(recorded)
                missing = sorted(set(recorded) - set(found))
                if missing:  # registry ids are immutable; a vanished one is a registry failure: retry
                    raise RuntimeError(f"schema ids {missing} decoded batch {batch_id} but are gone")
                self.log.info(
                    "re-run of a batch already in Silver: decoding with its recorded schema ids",
                    extra={"batch_id": batch_id, "schema_ids": recorded},
                )
                return found
        return self.schemas.writer_schemas(present_ids)

    def _write(
        self, classified: DataFrame, app_id: str, batch_id: int, schema_ids: list[int], timer: StepTimer
    ) -> None:
        silver, dlq = split_classified(classified, self.exchange)
        dlq_counts = {r["error_type"]: int(r["count"]) for r in dlq.groupBy("error_type").count().collect()}
        timer.lap("classify")
        metadata = batch_metadata(app_id, batch_id, schema_ids)
        append_exactly_once(silver, self.silver_uri, app_id, batch_id, user_metadata=metadata)
        timer.lap("silver_write_commit")
        if dlq_counts:
            # An empty DLQ append would still cost a Delta commit per batch; a re-run of this batch
            # finds the same (no) bad rows, so skipping it keeps the write exactly-once.
            append_exactly_once(dlq, self.dlq_uri, app_id, batch_id, DLQ_PARTITION_COLUMNS)
            timer.lap("dlq_write_commit")
        stats = batch_stats(silver, time.time())
        record_batch_stats(self.metrics, stats)
        timer.lap("stats")
        self.metrics.record_dlq(self.exchange, dlq_counts)
        self.log.info(
            "batch committed",
            extra={
                "batch_id": batch_id,
                "silver_rows": sum(s.rows for s in stats.values()),
                "dlq_rows": sum(dlq_counts.values()),
                "dlq_by_error_type": dlq_counts,
                "seconds": timer.total(),
                "steps": timer.steps,
            },
        )


def batch_metadata(app_id: str, batch_id: int, schema_ids: list[int]) -> str:
    """The userMetadata of a Silver commit: which batch it is and the schema ids it decoded with."""
    return json.dumps({"k2_app_id": app_id, "k2_batch_id": batch_id, "k2_schema_ids": schema_ids})


def committed_schema_ids(
    spark: SparkSession, silver_uri: str, app_id: str, batch_id: int
) -> list[int] | None:
    """The schema ids recorded in Silver's commit of (app_id, batch_id); None when there is none."""
    history = DeltaTable.forPath(spark, silver_uri).history(RERUN_HISTORY_DEPTH)
    for row in history.select("userMetadata").collect():
        try:
            meta = json.loads(row["userMetadata"] or "{}")
        except ValueError:
            continue
        if meta.get("k2_app_id") == app_id and meta.get("k2_batch_id") == batch_id:
            return [int(i) for i in meta.get("k2_schema_ids", [])]
    return None


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
        .withColumn(BATCH_TIMESTAMP_COLUMN, F.current_timestamp())
        .writeStream.queryName(config.job_name)
        .option("checkpointLocation", config.checkpoint_uri)
        .foreachBatch(batch_writer)
    )
    query = apply_trigger(writer, config.trigger_interval).start()
    batch_writer.latch.set(str(query.id))
    return query
