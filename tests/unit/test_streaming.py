"""The transforms inside real Structured Streaming queries writing Delta tables: Bronze from the
`rate-micro-batch` source (it honours availableNow; plain `rate` does not), Silver + DLQ from a Bronze
Delta source with availableNow. Restarts resume from the checkpoint without loss or duplicates.
(Gold's streaming tests are in test_gold.py.)"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs.avro_schemas import load_schema
from spark_jobs.synthetic_trades import DEFAULT_START, CryptoDataFactory, encode_confluent
from spark_jobs.transforms.bronze import BRONZE_COLUMNS, BRONZE_PARTITION_COLUMN, to_bronze
from spark_jobs.transforms.dlq import DLQ_COLUMNS
from spark_jobs.transforms.silver import V2_COLUMNS, to_silver_and_dlq
from tests.unit.kafka_rows import kafka_source_df

pytestmark = pytest.mark.unit

HEADER = bytearray(b"\x00\x00\x00\x00\x01")
ROWS_PER_BATCH = 5


def _rate_as_kafka(spark: SparkSession) -> DataFrame:
    """rate-micro-batch rows shaped like the Kafka source: value = header + the row number's digits."""
    rate = (
        spark.readStream.format("rate-micro-batch")
        .option("rowsPerBatch", ROWS_PER_BATCH)
        .option("numPartitions", 1)
        .option("startTimestamp", int(DEFAULT_START.timestamp() * 1000))
        .load()
    )
    return rate.select(
        F.when(F.col("value") % 2 == 0, F.lit(bytearray(b"BTCUSDT"))).alias("key"),
        F.concat(F.lit(HEADER), F.col("value").cast("string").cast("binary")).alias("value"),
        F.lit("market.crypto.trades.binance.raw").alias("topic"),
        (F.col("value") % 3).cast("int").alias("partition"),
        F.col("value").alias("offset"),
        F.col("timestamp"),
        F.lit(0).alias("timestampType"),
    )


def _run_available_now(df: DataFrame, path: str, checkpoint: str, partition_by: tuple[str, ...] = ()) -> dict:
    query = (
        df.writeStream.format("delta")
        .option("checkpointLocation", checkpoint)
        .partitionBy(*partition_by)
        .trigger(availableNow=True)
        .start(path)
    )
    assert query.awaitTermination(240), "availableNow query did not finish"
    assert query.exception() is None
    return query.lastProgress


def test_bronze_streams_into_delta_and_resumes_without_loss_or_duplicates(spark, tmp_path):
    table, checkpoint = str(tmp_path / "bronze"), str(tmp_path / "bronze_checkpoint")
    for _ in range(2):  # the second run resumes from the checkpoint: the next micro-batch only
        _run_available_now(to_bronze(_rate_as_kafka(spark)), table, checkpoint, (BRONZE_PARTITION_COLUMN,))
    bronze = spark.read.format("delta").load(table)
    assert bronze.columns == list(BRONZE_COLUMNS)
    expected = spark.createDataFrame(
        [(i, bytearray(HEADER + str(i).encode()), i % 3) for i in range(2 * ROWS_PER_BATCH)],
        "offset BIGINT, value BINARY, partition INT",
    )
    assert_df_equality(
        bronze.select("offset", "value", "partition"), expected, ignore_row_order=True, ignore_nullable=True
    )
    assert bronze.select("ingestion_date").distinct().count() == 1


def test_silver_and_dlq_stream_from_a_bronze_delta_table(spark, tmp_path):
    """Silver and the DLQ as two availableNow queries over one Bronze Delta table: every row once in
    Silver or the DLQ, the bytes of dead letters as Bronze holds them."""
    bronze_path = str(tmp_path / "bronze")
    schema = load_schema("binance_raw_trade")
    factory = CryptoDataFactory(seed=13)
    now = DEFAULT_START + timedelta(hours=2)
    values = [
        encode_confluent(1, schema, t) for t in factory.binance_trade_sequence(4, span=timedelta(minutes=5))
    ]
    values += [b"\x09not avro", encode_confluent(1, schema, factory.binance_raw_trade(price="-1")), values[0]]
    to_bronze(kafka_source_df(spark, values, kafka_timestamp=now), now=now).write.format("delta").save(
        bronze_path
    )

    bronze_stream = spark.readStream.format("delta").load(bronze_path)
    silver, dlq = to_silver_and_dlq(bronze_stream, "binance", {1: json.dumps(schema)}, validated_at=now)
    _run_available_now(silver, str(tmp_path / "silver"), str(tmp_path / "silver_checkpoint"))
    _run_available_now(dlq, str(tmp_path / "dlq"), str(tmp_path / "dlq_checkpoint"))

    silver_table = spark.read.format("delta").load(str(tmp_path / "silver"))
    dlq_table = spark.read.format("delta").load(str(tmp_path / "dlq"))
    assert (silver_table.columns, dlq_table.columns) == (list(V2_COLUMNS), list(DLQ_COLUMNS))
    silver_rows, dlq_rows = silver_table.collect(), dlq_table.collect()
    # values[0] was produced twice (a replay at offset 6): Silver keeps both, Gold deduplicates.
    assert (len(silver_rows), len({r.message_id for r in silver_rows})) == (5, 4)
    assert sorted((r.kafka_offset, r.error_type, bytes(r.raw_value)) for r in dlq_rows) == [
        (4, "bad_magic_byte", values[4]),
        (5, "non_positive_price", values[5]),
    ]
