"""The .avsc files are the one source: the StructTypes derived from them match what Spark's own
from_avro produces (drift check), and the contract's field lists hold."""

from __future__ import annotations

import json

import fastavro
import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.avro.functions import from_avro

from spark_jobs.avro_schemas import (
    SCHEMA_NAMES,
    avro_to_spark_type,
    decimal_type,
    field_names,
    load_schema,
    raw_schema_name,
    required_fields,
    schema_json,
    spark_schema,
)

pytestmark = pytest.mark.unit


def test_every_schema_parses_with_fastavro():
    for name in SCHEMA_NAMES:
        parsed = fastavro.parse_schema(load_schema(name))
        assert parsed["name"].startswith("dev.k2.")


def test_record_names_and_namespaces():
    names = {name: (load_schema(name)["namespace"], load_schema(name)["name"]) for name in SCHEMA_NAMES}
    assert names == {
        "binance_raw_trade": ("dev.k2.crypto.binance", "BinanceRawTrade"),
        "kraken_raw_trade": ("dev.k2.crypto.kraken", "KrakenRawTrade"),
        "trade_v2": ("dev.k2.crypto", "TradeV2"),
        "dlq_record": ("dev.k2.crypto", "DlqRecord"),
    }


def test_raw_fields_mirror_the_exchange_feeds():
    assert field_names("binance_raw_trade") == (
        "event_type", "event_time_ms", "symbol", "trade_id", "price", "quantity",
        "trade_time_ms", "is_buyer_maker", "ingestion_timestamp",
    )  # fmt: skip
    assert field_names("kraken_raw_trade") == (
        "symbol", "price", "quantity", "trade_time_seconds", "side", "order_type", "misc",
        "ingestion_timestamp", "trade_id",
    )  # fmt: skip


def test_v2_has_15_required_fields():
    assert len(field_names("trade_v2")) == 15
    assert required_fields("trade_v2") == field_names("trade_v2")


def test_decimals_and_timestamps_of_v2():
    assert decimal_type("trade_v2", "price") == T.DecimalType(18, 10)
    assert decimal_type("trade_v2", "quantity") == T.DecimalType(19, 8)
    assert decimal_type("trade_v2", "trade_value_usd") == T.DecimalType(38, 18)
    # price x quantity fits trade_value_usd without rounding: precision 18 + 19 + 1 = 38, scale 10 + 8
    for field in ("timestamp", "ingestion_timestamp", "validation_timestamp"):
        assert spark_schema("trade_v2")[field].dataType == T.TimestampType()
        assert next(f for f in load_schema("trade_v2")["fields"] if f["name"] == field)["type"] == {
            "type": "long",
            "logicalType": "timestamp-micros",
        }


def test_decimal_type_rejects_a_non_decimal_field():
    with pytest.raises(TypeError, match="not a decimal"):
        decimal_type("trade_v2", "symbol")


def test_nullable_exactly_for_null_unions():
    binance = spark_schema("binance_raw_trade")
    assert [f.name for f in binance.fields if f.nullable] == ["price", "quantity"]
    assert required_fields("kraken_raw_trade") == ("symbol", "ingestion_timestamp")


def test_load_schema_returns_a_copy():
    schema = load_schema("trade_v2")
    schema["fields"].clear()
    assert len(load_schema("trade_v2")["fields"]) == 15
    assert json.loads(schema_json("trade_v2")) == load_schema("trade_v2")


def test_unknown_names_are_rejected():
    with pytest.raises(KeyError, match="unknown schema"):
        load_schema("coinbase_raw_trade")
    with pytest.raises(KeyError, match="unknown exchange"):
        raw_schema_name("coinbase")


@pytest.mark.parametrize(
    ("avro_type", "spark_type"),
    [
        ("string", T.StringType()),
        ("double", T.DoubleType()),
        ("float", T.FloatType()),
        (["null", "int"], T.IntegerType()),
        ({"type": "int", "logicalType": "date"}, T.DateType()),
        ({"type": "long", "logicalType": "timestamp-millis"}, T.TimestampType()),
        ({"type": "enum", "name": "Side", "symbols": ["buy", "sell"]}, T.StringType()),
        ({"type": "array", "items": "long"}, T.ArrayType(T.LongType())),
        ({"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}, T.DecimalType(9, 2)),
        ({"type": "string"}, T.StringType()),
        (
            {"type": "record", "name": "Fill", "fields": [{"name": "qty", "type": ["null", "string"]}]},
            T.StructType([T.StructField("qty", T.StringType(), True)]),
        ),
    ],
)
def test_avro_to_spark_type(avro_type, spark_type):
    assert avro_to_spark_type(avro_type) == spark_type


def test_only_null_unions_are_supported():
    with pytest.raises(ValueError, match="unions"):
        avro_to_spark_type(["null", "string", "long"])


def test_derived_struct_types_match_spark_from_avro(spark):
    """Spark's own Avro converter agrees with ours for every schema (names, types; from_avro makes
    every field nullable, so nullability is compared separately above)."""
    empty = spark.createDataFrame([(bytearray(b""),)], "body BINARY")
    decoded = empty.select(
        *[from_avro(F.col("body"), schema_json(name)).alias(name) for name in SCHEMA_NAMES]
    )
    for name in SCHEMA_NAMES:
        spark_made = decoded.schema[name].dataType
        assert isinstance(spark_made, T.StructType)
        assert [(f.name, f.dataType) for f in spark_made.fields] == [
            (f.name, f.dataType) for f in spark_schema(name).fields
        ], name
