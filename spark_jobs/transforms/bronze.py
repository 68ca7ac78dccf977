"""Bronze: Kafka source rows -> Bronze rows. Nothing is parsed or dropped: the value bytes stay exactly
as Kafka delivered them, so Silver (or a fixed Silver) can always replay Bronze."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_jobs.normalization import utc_date_col

#: The Bronze Delta table's columns (the Kafka source's, renamed where ambiguous, plus ingestion time).
BRONZE_SCHEMA: Final = T.StructType(
    [
        T.StructField("key", T.BinaryType()),
        T.StructField("value", T.BinaryType()),
        T.StructField("topic", T.StringType()),
        T.StructField("partition", T.IntegerType()),
        T.StructField("offset", T.LongType()),
        T.StructField("kafka_timestamp", T.TimestampType()),
        T.StructField("ingestion_timestamp", T.TimestampType()),
        T.StructField("ingestion_date", T.DateType()),
    ]
)
BRONZE_COLUMNS: Final = tuple(BRONZE_SCHEMA.fieldNames())
BRONZE_PARTITION_COLUMN: Final = "ingestion_date"


def to_bronze(kafka_df: DataFrame, *, now: datetime | None = None) -> DataFrame:
    """Select the Kafka source's key, value, topic, partition, offset and timestamp (as kafka_timestamp)
    and add when Bronze ingested the row (`now` for tests; the micro-batch time otherwise)."""
    ingested: Column = F.current_timestamp() if now is None else F.lit(now).cast(T.TimestampType())
    return kafka_df.select(
        F.col("key").cast(T.BinaryType()).alias("key"),
        F.col("value").cast(T.BinaryType()).alias("value"),
        F.col("topic").cast(T.StringType()).alias("topic"),
        F.col("partition").cast(T.IntegerType()).alias("partition"),
        F.col("offset").cast(T.LongType()).alias("offset"),
        F.col("timestamp").cast(T.TimestampType()).alias("kafka_timestamp"),
        ingested.alias("ingestion_timestamp"),
        utc_date_col(F.unix_micros(ingested)).alias("ingestion_date"),
    )
