"""Build DataFrames shaped like Spark's Kafka source (and Bronze) from Python values, for unit tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pyspark.sql import DataFrame, SparkSession

from spark_jobs.synthetic_trades import DEFAULT_START

#: The Kafka source's columns and types (Spark Structured Streaming + Kafka integration guide).
KAFKA_SOURCE_DDL = (
    "key BINARY, value BINARY, topic STRING, partition INT, offset BIGINT, "
    "timestamp TIMESTAMP, timestampType INT"
)


def kafka_source_df(
    spark: SparkSession,
    values: Sequence[bytes | None],
    *,
    topic: str = "market.crypto.trades.binance.raw",
    partition: int = 0,
    first_offset: int = 0,
    key: bytes | None = b"BTCUSDT",
    kafka_timestamp: datetime = DEFAULT_START,
) -> DataFrame:
    """One row per value, offsets first_offset, first_offset + 1, ... in order."""
    rows = [
        (key, value, topic, partition, first_offset + i, kafka_timestamp, 0) for i, value in enumerate(values)
    ]
    return spark.createDataFrame(rows, KAFKA_SOURCE_DDL)
