"""bronze-<exchange>: Kafka topic -> Bronze Delta table, value bytes untouched.

A plain Delta sink: Spark's checkpoint and Delta's transaction log together make it exactly-once
(a batch re-run after a crash is recognized by the sink and not written twice). Row counts and the
newest Kafka timestamp reach the metrics through an observation the listener reads.
"""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from spark_jobs.contracts import bronze_table
from spark_jobs.job_config import JobConfig
from spark_jobs.jobs.delta_io import ensure_table
from spark_jobs.jobs.listener import BRONZE_OBSERVATION
from spark_jobs.jobs.stream_options import apply_trigger, kafka_source_options
from spark_jobs.jobs.table_schemas import BRONZE_PARTITION_COLUMNS, bronze_schema
from spark_jobs.transforms.bronze import to_bronze

#: Bronze's copy of the Kafka record timestamp (the feed's produce time).
KAFKA_TIMESTAMP_COLUMN = "kafka_timestamp"


def bronze_uri(config: JobConfig, exchange: str) -> str:
    return config.table_uri(bronze_table(exchange))


def start_bronze(spark: SparkSession, config: JobConfig) -> StreamingQuery:
    assert config.exchange is not None
    uri = bronze_uri(config, config.exchange)
    ensure_table(spark, uri, bronze_schema(), BRONZE_PARTITION_COLUMNS)
    kafka = spark.readStream.format("kafka").options(**kafka_source_options(config)).load()
    bronze = to_bronze(kafka).observe(
        BRONZE_OBSERVATION,
        F.count(F.lit(1)).alias("rows"),
        F.max(KAFKA_TIMESTAMP_COLUMN).alias("newest_kafka_timestamp"),
    )
    writer = (
        bronze.writeStream.format("delta")
        .queryName(config.job_name)
        .outputMode("append")
        .option("checkpointLocation", config.checkpoint_uri)
        .partitionBy(*BRONZE_PARTITION_COLUMNS)
    )
    return apply_trigger(writer, config.trigger_interval).start(uri)
