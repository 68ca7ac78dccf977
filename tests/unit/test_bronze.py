"""Bronze on real Spark: Kafka source rows in, the same bytes out, plus ingestion time and date.
One Bronze run over a mixed input (module fixture); each test checks one property of it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F

from spark_jobs.avro_schemas import load_schema
from spark_jobs.synthetic_trades import DEFAULT_START, CryptoDataFactory, encode_confluent
from spark_jobs.transforms.bronze import BRONZE_COLUMNS, BRONZE_SCHEMA, to_bronze
from tests.unit.kafka_rows import KAFKA_SOURCE_DDL

pytestmark = pytest.mark.unit

#: A second before midnight UTC: the ingestion date must be the UTC date, whatever the zone.
NOW = datetime(2024, 6, 3, 23, 59, 59, 999_999, tzinfo=UTC)
KAFKA_TIME = DEFAULT_START


def _values() -> list[tuple[str, bytes | None, bytes | None]]:
    """(name, key, value) of every kind of value Bronze must keep as it is."""
    factory = CryptoDataFactory(seed=3)
    good = encode_confluent(1, load_schema("binance_raw_trade"), factory.binance_raw_trade())
    return [
        ("confluent_avro", b"BTCUSDT", good),
        ("same_again", b"BTCUSDT", good),  # a duplicate: Bronze never deduplicates
        ("corrupt", b"BTCUSDT", b"\x07\xff\xfe garbage \x00"),
        ("truncated", b"ETHUSDT", good[:9]),
        ("empty", b"ETHUSDT", b""),
        ("tombstone", b"ETHUSDT", None),
        ("no_key", None, good),
        ("json_not_avro", b"SOLUSDT", b'{"e":"trade","p":"1"}'),
        ("large", b"BTCUSDT", bytes(range(256)) * 400),  # 100 KiB
        ("all_zero_bytes", b"BTCUSDT", b"\x00" * 64),
    ]


@dataclass(frozen=True)
class BronzeRun:
    names: list[str]
    kafka_df: DataFrame
    bronze_df: DataFrame
    rows: list[Row]  # in input order

    def row(self, name: str) -> Row:
        return self.rows[self.names.index(name)]


@pytest.fixture(scope="module")
def bronze(spark) -> BronzeRun:
    values = _values()
    kafka_rows = [
        (
            key,
            value,
            "market.crypto.trades.binance.raw",
            i % 3,
            1000 + i,
            KAFKA_TIME + timedelta(seconds=i),
            i % 2,
        )
        for i, (_, key, value) in enumerate(values)
    ]
    kafka_df = spark.createDataFrame(kafka_rows, KAFKA_SOURCE_DDL)
    bronze_df = to_bronze(kafka_df, now=NOW)
    rows = sorted(bronze_df.collect(), key=lambda r: r.offset)
    return BronzeRun([name for name, _, _ in values], kafka_df, bronze_df, rows)


def test_bronze_columns_and_types_are_the_contract(bronze):
    assert bronze.bronze_df.columns == list(BRONZE_COLUMNS)
    assert [f.dataType for f in bronze.bronze_df.schema.fields] == [f.dataType for f in BRONZE_SCHEMA.fields]


def test_no_row_is_dropped_and_none_is_added(bronze):
    assert len(bronze.rows) == len(bronze.names)
    assert [r.offset for r in bronze.rows] == [1000 + i for i in range(len(bronze.names))]


def test_value_bytes_are_untouched(spark, bronze):
    """The whole value column, byte for byte, as a chispa comparison."""
    actual = spark.createDataFrame(bronze.rows, BRONZE_SCHEMA).select("offset", "value")
    expected = bronze.kafka_df.select("offset", "value")
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_confluent_avro_value_is_not_decoded(bronze):
    row = bronze.row("confluent_avro")
    assert bytes(row.value) == _values()[0][2]
    assert row.value[0] == 0


def test_corrupt_value_is_kept(bronze):
    assert bytes(bronze.row("corrupt").value) == b"\x07\xff\xfe garbage \x00"


def test_truncated_value_is_kept(bronze):
    assert len(bronze.row("truncated").value) == 9


def test_empty_value_stays_empty_not_null(bronze):
    assert bronze.row("empty").value == bytearray(b"")


def test_tombstone_value_stays_null(bronze):
    assert bronze.row("tombstone").value is None


def test_non_avro_value_is_kept(bronze):
    assert bytes(bronze.row("json_not_avro").value) == b'{"e":"trade","p":"1"}'


def test_large_value_is_kept_whole(bronze):
    assert bytes(bronze.row("large").value) == bytes(range(256)) * 400


def test_duplicates_are_kept(bronze):
    assert bronze.row("confluent_avro").value == bronze.row("same_again").value
    assert bronze.row("confluent_avro").offset != bronze.row("same_again").offset


def test_keys_are_kept_including_null(spark, bronze):
    actual = spark.createDataFrame(bronze.rows, BRONZE_SCHEMA).select("offset", "key")
    assert_df_equality(
        actual, bronze.kafka_df.select("offset", "key"), ignore_row_order=True, ignore_nullable=True
    )
    assert bronze.row("no_key").key is None


def test_topic_partition_offset_are_kept(spark, bronze):
    actual = spark.createDataFrame(bronze.rows, BRONZE_SCHEMA).select("topic", "partition", "offset")
    expected = bronze.kafka_df.select("topic", "partition", "offset")
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_kafka_timestamp_is_the_source_timestamp(spark, bronze):
    actual = spark.createDataFrame(bronze.rows, BRONZE_SCHEMA).select("offset", "kafka_timestamp")
    expected = bronze.kafka_df.select("offset", F.col("timestamp").alias("kafka_timestamp"))
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_timestamp_type_is_not_carried(bronze):
    assert "timestampType" not in bronze.bronze_df.columns
    assert "timestamp" not in bronze.bronze_df.columns


def test_ingestion_timestamp_is_the_given_clock(bronze):
    assert {r.ingestion_timestamp.astimezone(UTC) for r in bronze.rows} == {NOW}


def test_ingestion_date_is_the_utc_date(bronze):
    assert {r.ingestion_date for r in bronze.rows} == {NOW.date()}


def test_ingestion_date_does_not_depend_on_the_session_time_zone(spark):
    """In Los Angeles it is still June 3rd afternoon, in Tokyo June 4th: the date stays the UTC one."""
    df = spark.createDataFrame([(b"k", b"v", "t", 0, 0, KAFKA_TIME, 0)], KAFKA_SOURCE_DDL)
    previous = spark.conf.get("spark.sql.session.timeZone")
    try:
        dates = []
        for zone in ("America/Los_Angeles", "Asia/Tokyo"):
            spark.conf.set("spark.sql.session.timeZone", zone)
            dates.append(to_bronze(df, now=NOW).select("ingestion_date").first()[0])
    finally:
        spark.conf.set("spark.sql.session.timeZone", previous)
    assert dates == [NOW.date(), NOW.date()]


def test_default_clock_is_the_batch_time(spark):
    df = spark.createDataFrame([(b"k", b"v", "t", 0, 0, KAFKA_TIME, 0)], KAFKA_SOURCE_DDL)
    before = datetime.now(UTC)
    row = to_bronze(df).first()
    after = datetime.now(UTC)
    assert before - timedelta(seconds=1) <= row.ingestion_timestamp.astimezone(UTC) <= after
    assert row.ingestion_date == row.ingestion_timestamp.astimezone(UTC).date()
