"""Silver on real Spark: Confluent header, from_avro over several writer versions, every DLQ reason,
15-field normalization, exactly-one-output. Each exchange's cases run through Silver once (module
fixture); the tests assert on that one result."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, Row, SparkSession

from spark_jobs.avro_schemas import load_schema, schema_json, spark_schema
from spark_jobs.contracts import bronze_table
from spark_jobs.normalization import (
    binance_to_v2,
    kraken_hash_id,
    kraken_to_v2,
    micros_from_datetime,
    parse_decimal,
)
from spark_jobs.synthetic_trades import DEFAULT_START, CryptoDataFactory, encode_confluent
from spark_jobs.transforms.bronze import to_bronze
from spark_jobs.transforms.dlq import DLQ_SCHEMA, DlqErrorType
from spark_jobs.transforms.silver import (
    V2_COLUMNS,
    V2_SCHEMA,
    classify_bronze,
    parse_duration,
    schema_ids_in,
    split_classified,
    to_silver_and_dlq,
)
from tests.unit.kafka_rows import kafka_source_df

pytestmark = pytest.mark.unit

NOW = DEFAULT_START + timedelta(hours=2)
SILVER = "silver"


def _binance_writer_v2() -> dict:
    """A newer writer that also sends Binance's 'M' (best match) field: the reader ignores it."""
    schema = load_schema("binance_raw_trade")
    schema["fields"].append({"name": "is_best_match", "type": "boolean", "default": True})
    return schema


def _binance_incompatible_writer() -> dict:
    """trade_id as a string: cannot resolve to the reader's long."""
    schema = load_schema("binance_raw_trade")
    for field in schema["fields"]:
        if field["name"] == "trade_id":
            field["type"] = "string"
    return schema


def _kraken_writer_v1() -> dict:
    """The first Kraken writer, before trade_id existed (websocket v1 has none)."""
    schema = load_schema("kraken_raw_trade")
    schema["fields"] = [f for f in schema["fields"] if f["name"] != "trade_id"]
    return schema


BINANCE_WRITERS = {
    1: load_schema("binance_raw_trade"),
    2: _binance_writer_v2(),
    3: _binance_incompatible_writer(),
}
KRAKEN_WRITERS = {11: _kraken_writer_v1(), 12: load_schema("kraken_raw_trade")}


@dataclass(frozen=True)
class Case:
    name: str
    value: bytes | None
    expected: str  # SILVER or a DlqErrorType value
    raw: dict | None = None  # the record, when there is one
    schema_id: int | None = None


@dataclass(frozen=True)
class SilverResult:
    cases: list[Case]  # case i has Kafka offset i
    silver: list[Row]
    dlq: list[Row]
    silver_df: DataFrame
    dlq_df: DataFrame

    def case(self, name: str) -> tuple[int, Case]:
        return next((i, c) for i, c in enumerate(self.cases) if c.name == name)

    def dlq_row(self, name: str) -> Row:
        offset, _ = self.case(name)
        return next(r for r in self.dlq if r.kafka_offset == offset)


def _bronze(spark: SparkSession, exchange: str, cases: list[Case]) -> DataFrame:
    topic = f"market.crypto.trades.{exchange}.raw"
    kafka = kafka_source_df(spark, [c.value for c in cases], topic=topic, partition=3, kafka_timestamp=NOW)
    return to_bronze(kafka, now=NOW)


def _run(spark: SparkSession, exchange: str, cases: list[Case], writers: dict[int, dict]) -> SilverResult:
    bronze = _bronze(spark, exchange, cases)
    writer_json = {i: json.dumps(s) for i, s in writers.items()}
    silver, dlq = to_silver_and_dlq(bronze, exchange, writer_json, validated_at=NOW)
    return SilverResult(cases, silver.collect(), dlq.collect(), silver, dlq)


def _framed(name: str, expected: str, schema_id: int, writers: dict, raw: dict) -> Case:
    return Case(name, encode_confluent(schema_id, writers[schema_id], raw), expected, raw, schema_id)


# --- Binance -------------------------------------------------------------------------------------


def binance_cases() -> list[Case]:
    factory = CryptoDataFactory(seed=7)
    w = BINANCE_WRITERS

    def trade(**overrides):
        return factory.binance_raw_trade(mean_gap_seconds=20, **overrides)

    def ok(name, schema_id=1, **overrides):
        raw = trade(**overrides)
        if schema_id == 2:
            raw["is_best_match"] = True
        return _framed(name, SILVER, schema_id, w, raw)

    def bad(name, error, schema_id=1, **overrides):
        return _framed(name, error.value, schema_id, w, trade(**overrides))

    now_ms = micros_from_datetime(NOW) // 1000
    good_body = encode_confluent(1, w[1], trade())
    # The maker flag's byte: where the frames of a taker sell and a taker buy differ.
    taker_sell = trade(is_buyer_maker=True)
    sell = encode_confluent(1, w[1], taker_sell)
    buy = encode_confluent(1, w[1], dict(taker_sell, is_buyer_maker=False))
    flag = next(i for i, (a, b) in enumerate(zip(sell, buy, strict=True)) if a != b)
    return [
        ok("btc_1"),
        ok("btc_2"),
        ok("eth", base="ETH"),
        ok("fdusd_quote", symbol="BTCFDUSD"),
        ok("writer_v2_a", schema_id=2),
        ok("writer_v2_b", schema_id=2, base="SOL"),
        ok("future_within_60s", trade_time_ms=now_ms + 59_000),
        bad("missing_price", DlqErrorType.MISSING_FIELD, price=None),
        bad("missing_both", DlqErrorType.MISSING_FIELD, price=None, quantity=None),
        bad("negative_price", DlqErrorType.NON_POSITIVE_PRICE, price="-43000.10"),
        bad("zero_price", DlqErrorType.NON_POSITIVE_PRICE, price="0"),
        bad("zero_quantity", DlqErrorType.NON_POSITIVE_QUANTITY, quantity="0.00000000"),
        bad("empty_symbol", DlqErrorType.EMPTY_SYMBOL, symbol=""),
        bad("blank_symbol", DlqErrorType.INVALID_SYMBOL_SYNTAX, symbol="   "),
        bad("lower_case_symbol", DlqErrorType.INVALID_SYMBOL_SYNTAX, symbol="btcusdt"),
        bad("slash_in_symbol", DlqErrorType.INVALID_SYMBOL_SYNTAX, symbol="BTC/USDT"),
        bad("emoji_base", DlqErrorType.INVALID_SYMBOL_SYNTAX, symbol="\U0001f600USDT"),
        bad("arabic_indic_price", DlqErrorType.INVALID_DECIMAL, price="\u0661\u0662\u0663"),
        bad("padded_price", DlqErrorType.INVALID_DECIMAL, price=" 1"),
        bad("negative_trade_id", DlqErrorType.INVALID_TRADE_ID, trade_id=-1),
        bad("unknown_quote", DlqErrorType.UNKNOWN_SYMBOL_FORMAT, symbol="BTCXYZ"),
        bad("quote_only", DlqErrorType.UNKNOWN_SYMBOL_FORMAT, symbol="USDT"),
        bad("price_not_a_number", DlqErrorType.INVALID_DECIMAL, price="43k"),
        bad("price_too_precise", DlqErrorType.INVALID_DECIMAL, price="1.12345678901"),
        bad("quantity_too_large", DlqErrorType.INVALID_DECIMAL, quantity="123456789012.5"),
        bad("future_61s", DlqErrorType.TIMESTAMP_OUT_OF_RANGE, trade_time_ms=now_ms + 61_000),
        bad("eight_days_old", DlqErrorType.TIMESTAMP_OUT_OF_RANGE, trade_time_ms=now_ms - 8 * 86_400_000),
        bad("time_overflows", DlqErrorType.INVALID_TIMESTAMP, trade_time_ms=2**62),
        bad("eur_quote", DlqErrorType.UNSUPPORTED_QUOTE_CURRENCY, symbol="BTCEUR"),
        bad("btc_quote", DlqErrorType.UNSUPPORTED_QUOTE_CURRENCY, symbol="ETHBTC"),
        bad("incompatible_writer", DlqErrorType.AVRO_DECODE_ERROR, schema_id=3, trade_id="x"),
        Case("truncated_avro", good_body[:17], DlqErrorType.AVRO_DECODE_ERROR.value, schema_id=1),
        Case(
            "garbage_body",
            b"\x00\x00\x00\x00\x01" + b"\xff" * 20,
            DlqErrorType.AVRO_DECODE_ERROR.value,
            schema_id=1,
        ),
        # Avro writes a boolean as 0 or 1; Java's decoder would read 2 as false: a buy that was a sell.
        Case(
            "maker_flag_byte_2",
            sell[:flag] + b"\x02" + sell[flag + 1 :],
            DlqErrorType.AVRO_DECODE_ERROR.value,
            schema_id=1,
        ),
        Case("bad_magic_byte", b"\x01" + good_body[1:], DlqErrorType.BAD_MAGIC_BYTE.value),
        Case("short_value", b"\x00\x00\x01", DlqErrorType.BAD_MAGIC_BYTE.value),
        Case("empty_value", b"", DlqErrorType.BAD_MAGIC_BYTE.value),
        Case("tombstone", None, DlqErrorType.BAD_MAGIC_BYTE.value),
        Case(
            "unknown_schema_id",
            struct.pack(">bI", 0, 999) + good_body[5:],
            DlqErrorType.UNKNOWN_SCHEMA_ID.value,
            schema_id=999,
        ),
    ]


@pytest.fixture(scope="module")
def binance(spark) -> SilverResult:
    return _run(spark, "binance", binance_cases(), BINANCE_WRITERS)


def test_every_row_lands_in_exactly_one_output(binance):
    assert len(binance.silver) + len(binance.dlq) == len(binance.cases)
    dlq_offsets = [r.kafka_offset for r in binance.dlq]
    assert len(dlq_offsets) == len(set(dlq_offsets))
    expected_silver_ids = {_case_message_id(c) for c in binance.cases if c.expected == SILVER}
    assert {r.message_id for r in binance.silver} == expected_silver_ids
    assert set(dlq_offsets) == {i for i, c in enumerate(binance.cases) if c.expected != SILVER}


@pytest.mark.parametrize("case", [c.name for c in binance_cases() if c.expected != SILVER])
def test_binance_dlq_reason(binance, case):
    _, expected = binance.case(case)
    assert binance.dlq_row(case).error_type == expected.expected


def test_dlq_error_types_as_a_dataframe(spark, binance):
    """The whole DLQ (offset, error type) in one chispa comparison."""
    actual = binance.dlq_df.select("kafka_offset", "error_type")
    expected = spark.createDataFrame(
        [(i, c.expected) for i, c in enumerate(binance.cases) if c.expected != SILVER],
        "kafka_offset BIGINT, error_type STRING",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_valid_binance_trades_normalize_to_the_python_rules(spark, binance):
    """All 15 V2 fields, compared with the pure-Python normalization (the same rule lists)."""
    expected_rows = [
        binance_to_v2(_without_extra(c.raw), c.schema_id, NOW) for c in binance.cases if c.expected == SILVER
    ]
    expected = spark.createDataFrame(
        [tuple(r[name] for name in V2_COLUMNS) for r in expected_rows], V2_SCHEMA
    )
    actual = spark.createDataFrame(binance.silver, binance.silver_df.schema)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def _case_message_id(case: Case) -> str:
    """The message_id the Python rules give a valid Binance case (trade ids repeat across symbols)."""
    assert case.raw is not None and case.schema_id is not None
    return str(binance_to_v2(_without_extra(case.raw), case.schema_id, NOW)["message_id"])


def _binance_case_of(result: SilverResult, row: Row) -> Case:
    return next(c for c in result.cases if c.expected == SILVER and _case_message_id(c) == row.message_id)


def _without_extra(raw: dict) -> dict:
    return {k: v for k, v in raw.items() if k != "is_best_match"}


def test_silver_has_the_15_v2_fields_with_v2_types(binance):
    assert len(V2_COLUMNS) == 15
    actual = [(f.name, f.dataType) for f in binance.silver_df.schema.fields]
    assert actual == [(f.name, f.dataType) for f in spark_schema("trade_v2").fields]


def test_silver_rows_have_no_null_field(binance):
    assert binance.silver
    for row in binance.silver:
        assert all(value is not None for value in row), row


def test_two_writer_versions_decode_to_the_same_shape(binance):
    by_schema = {r.schema_id for r in binance.silver}
    assert by_schema == {1, 2}
    _, v2_case = binance.case("writer_v2_b")
    row = next(r for r in binance.silver if r.message_id == _case_message_id(v2_case))
    assert (row.symbol, row.base_currency, row.schema_id) == ("SOL/USDT", "Solana", 2)


def test_binance_timestamp_is_exact_microseconds(binance):
    for row in binance.silver:
        case = _binance_case_of(binance, row)
        assert micros_from_datetime(row.timestamp.astimezone(UTC)) == case.raw["trade_time_ms"] * 1000


def test_binance_side_and_maker_flag(binance):
    for row in binance.silver:
        case = _binance_case_of(binance, row)
        assert row.is_market_maker is case.raw["is_buyer_maker"]
        assert row.side == ("sell" if case.raw["is_buyer_maker"] else "buy")


def test_trade_value_usd_is_exact_price_times_quantity(binance):
    for row in binance.silver:
        assert row.trade_value_usd == row.price * row.quantity
        assert row.trade_value_usd.as_tuple().exponent == -18


def test_longest_quote_asset_wins(binance):
    symbols = {r.symbol: (r.base_currency, r.quote_currency) for r in binance.silver}
    assert symbols["BTC/FDUSD"] == ("Bitcoin", "FDUSD")  # FDUSD has no listed name: kept as the code
    assert symbols["BTC/USDT"] == ("Bitcoin", "Tether")
    assert symbols["ETH/USDT"] == ("Ethereum", "Tether")


def test_dlq_keeps_raw_bytes_and_kafka_coordinates(binance):
    for row in binance.dlq:
        case = binance.cases[row.kafka_offset]
        assert row.raw_value == (bytearray(case.value) if case.value is not None else None)
        assert (row.kafka_topic, row.kafka_partition) == ("market.crypto.trades.binance.raw", 3)
        assert (row.exchange, row.source_table) == ("binance", bronze_table("binance"))


def test_dlq_schema_id_is_the_header_id_or_null(binance):
    for row in binance.dlq:
        assert row.schema_id == binance.cases[row.kafka_offset].schema_id, row


def test_dlq_time_and_date(binance):
    assert {(r.error_timestamp.astimezone(UTC), r.error_date) for r in binance.dlq} == {(NOW, NOW.date())}


def test_dlq_has_its_declared_schema(binance):
    assert [(f.name, f.dataType) for f in binance.dlq_df.schema.fields] == [
        (f.name, f.dataType) for f in DLQ_SCHEMA.fields
    ]


def test_dlq_reasons_say_what_failed(binance):
    reasons = {binance.cases[r.kafka_offset].name: r.error_reason for r in binance.dlq}
    assert reasons["missing_both"] == "missing: price, quantity"
    assert reasons["tombstone"] == "value is null"
    assert reasons["short_value"] == "value has 3 bytes, fewer than the 5-byte header"
    assert reasons["bad_magic_byte"] == "magic byte 0x01 is not 0x00"
    assert reasons["unknown_schema_id"] == "no writer schema for id 999"
    assert "does not decode with writer schema 1" in reasons["truncated_avro"]
    assert "a boolean byte other than 0 or 1" in reasons["maker_flag_byte_2"]
    assert "'BTCXYZ'" in reasons["unknown_quote"]
    assert "EUR" in reasons["eur_quote"]
    assert all(reasons.values())


def test_schema_ids_in_lists_header_ids(spark, binance):
    bronze = to_bronze(kafka_source_df(spark, [c.value for c in binance.cases]), now=NOW)
    assert schema_ids_in(bronze) == [1, 2, 3, 999]


# --- Kraken --------------------------------------------------------------------------------------


def kraken_cases() -> list[Case]:
    factory = CryptoDataFactory(seed=11)
    w = KRAKEN_WRITERS

    def trade(with_trade_id=True, **overrides):
        return factory.kraken_raw_trade(mean_gap_seconds=20, with_trade_id=with_trade_id, **overrides)

    def ok(name, schema_id=12, **overrides):
        raw = trade(**overrides)
        if schema_id == 11:
            raw.pop("trade_id")
        return _framed(name, SILVER, schema_id, w, raw)

    def bad(name, error, **overrides):
        return _framed(name, error.value, 12, w, trade(**overrides))

    replayed = trade(with_trade_id=False, symbol="BTC/USD", side="buy")
    replay_v1 = dict(replayed, symbol="XBT/USD", side="b")
    replay_v1.pop("trade_id")
    return [
        ok("with_trade_id"),
        ok("without_trade_id", with_trade_id=False),
        ok("xbt", symbol="XBT/USD", side="s"),
        ok("dogecoin", base="DOGE"),
        ok("rfc3339_time", trade_time_seconds="2024-06-03T12:30:00.123456Z"),
        ok("sub_micro_digits", trade_time_seconds="1717417800.1234569"),
        ok("writer_v1", schema_id=11),
        _framed("replay_v2", SILVER, 12, w, replayed),
        _framed("replay_v1", SILVER, 11, w, replay_v1),
        bad("invalid_side", DlqErrorType.INVALID_SIDE, side="x"),
        bad("missing_side", DlqErrorType.MISSING_FIELD, side=None),
        bad("missing_time", DlqErrorType.MISSING_FIELD, trade_time_seconds=None),
        bad("bad_time", DlqErrorType.INVALID_TIMESTAMP, trade_time_seconds="yesterday"),
        bad("time_without_zone", DlqErrorType.INVALID_TIMESTAMP, trade_time_seconds="2024-06-03T12:30:00"),
        bad("no_slash", DlqErrorType.UNKNOWN_SYMBOL_FORMAT, symbol="BTCUSD"),
        bad("three_parts", DlqErrorType.UNKNOWN_SYMBOL_FORMAT, symbol="BTC/USD/X"),
        bad("euro_quote", DlqErrorType.UNSUPPORTED_QUOTE_CURRENCY, symbol="XBT/EUR"),
        bad("negative_quantity", DlqErrorType.NON_POSITIVE_QUANTITY, quantity="-1"),
    ]


@pytest.fixture(scope="module")
def kraken(spark) -> SilverResult:
    return _run(spark, "kraken", kraken_cases(), KRAKEN_WRITERS)


def test_kraken_every_row_lands_in_exactly_one_output(kraken):
    assert len(kraken.silver) == sum(c.expected == SILVER for c in kraken.cases)
    assert sorted(r.kafka_offset for r in kraken.dlq) == [
        i for i, c in enumerate(kraken.cases) if c.expected != SILVER
    ]


@pytest.mark.parametrize("case", [c.name for c in kraken_cases() if c.expected != SILVER])
def test_kraken_dlq_reason(kraken, case):
    _, expected = kraken.case(case)
    assert kraken.dlq_row(case).error_type == expected.expected


def test_valid_kraken_trades_normalize_to_the_python_rules(spark, kraken):
    """Both writer versions, ids present and derived, XBT/XDG aliases, RFC3339 and epoch times."""
    expected_rows = []
    for case in kraken.cases:
        if case.expected == SILVER:
            expected_rows.append(kraken_to_v2({"trade_id": None, **case.raw}, case.schema_id, NOW))
    expected = spark.createDataFrame(
        [tuple(r[name] for name in V2_COLUMNS) for r in expected_rows], V2_SCHEMA
    )
    actual = spark.createDataFrame(kraken.silver, kraken.silver_df.schema)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def _kraken_row(result: SilverResult, name: str) -> Row:
    _, case = result.case(name)
    price = parse_decimal(case.raw["price"], 18, 10)
    return next(r for r in result.silver if r.price == price and r.schema_id == case.schema_id)


def test_kraken_trade_id_is_used_when_present(kraken):
    _, case = kraken.case("with_trade_id")
    row = _kraken_row(kraken, "with_trade_id")
    assert row.trade_id == str(case.raw["trade_id"])
    assert row.message_id == f"kraken-{row.symbol}-20240603-{case.raw['trade_id']}"


def test_kraken_without_id_gets_the_python_hash(kraken):
    _, case = kraken.case("without_trade_id")
    row = _kraken_row(kraken, "without_trade_id")
    micros = micros_from_datetime(row.timestamp.astimezone(UTC))
    assert row.trade_id == kraken_hash_id("BTC/USD", micros, row.price, row.quantity, case.raw["side"])
    assert len(row.trade_id) == 16


def test_kraken_replay_from_either_websocket_version_has_one_message_id(kraken):
    """The same trade via v2 (BTC/USD, buy) and v1 (XBT/USD, b, old writer): the same message_id."""
    ids = {_kraken_row(kraken, "replay_v2").message_id, _kraken_row(kraken, "replay_v1").message_id}
    assert len(ids) == 1


def test_kraken_currency_aliases(kraken):
    assert (_kraken_row(kraken, "xbt").symbol, _kraken_row(kraken, "xbt").base_currency) == (
        "BTC/USD",
        "Bitcoin",
    )
    doge = _kraken_row(kraken, "dogecoin")
    assert (doge.symbol, doge.base_currency, doge.quote_currency) == ("DOGE/USD", "Dogecoin", "US Dollar")


def test_kraken_times_are_exact_microseconds(kraken):
    rfc = _kraken_row(kraken, "rfc3339_time").timestamp
    assert (rfc.minute, rfc.second, rfc.microsecond) == (30, 0, 123456)
    sub = _kraken_row(kraken, "sub_micro_digits").timestamp
    assert sub.microsecond == 123456  # truncated, never rounded through a float


def test_kraken_side_v1_codes(kraken):
    row = _kraken_row(kraken, "xbt")
    assert (row.side, row.is_market_maker) == ("sell", True)


def test_older_kraken_writer_decodes_with_null_trade_id(kraken):
    row = _kraken_row(kraken, "writer_v1")
    assert row.schema_id == 11 and len(row.trade_id) == 16


# --- edge paths ----------------------------------------------------------------------------------


def test_no_writer_schemas_sends_everything_to_unknown_schema_id(spark):
    values = [encode_confluent(1, load_schema("binance_raw_trade"), CryptoDataFactory().binance_raw_trade())]
    silver, dlq = to_silver_and_dlq(
        to_bronze(kafka_source_df(spark, values), now=NOW), "binance", {}, validated_at=NOW
    )
    assert silver.count() == 0
    assert [r.error_type for r in dlq.collect()] == ["unknown_schema_id"]


def test_an_implausible_time_is_invalid_even_with_a_huge_max_age(spark):
    """A pre-2009 trade passes a huge max_age but is no plausible trade time (before the time checks
    were strict it reached the last, incomplete_record, check)."""
    raw = CryptoDataFactory().binance_raw_trade(trade_time_ms=-5)
    values = [encode_confluent(1, load_schema("binance_raw_trade"), raw)]
    bronze = to_bronze(kafka_source_df(spark, values), now=NOW)
    silver, dlq = to_silver_and_dlq(
        bronze, "binance", {1: schema_json("binance_raw_trade")}, max_age="30000 days", validated_at=NOW
    )
    rows = dlq.collect()
    assert silver.count() == 0
    assert [r.error_type for r in rows] == ["invalid_timestamp"]
    assert rows[0].error_reason.startswith("trade time '-5' is not a time")


def test_a_batch_dataframe_needs_an_explicit_validation_time(spark):
    bronze = to_bronze(kafka_source_df(spark, [b"\x00"]), now=NOW)
    with pytest.raises(ValueError, match="validated_at"):
        classify_bronze(bronze, "binance", {})


def test_age_and_future_checks_measure_from_the_kafka_timestamp_not_a_clock(spark):
    """The same trade judged against two Kafka timestamps (years before today's clock): valid when
    Kafka received it within the limits, dead-lettered otherwise; validated_at changes nothing."""
    factory = CryptoDataFactory(start_time=DEFAULT_START)
    trade = factory.binance_raw_trade(mean_gap_seconds=0)
    value = encode_confluent(1, load_schema("binance_raw_trade"), trade)
    trade_time = DEFAULT_START + timedelta(microseconds=1)
    received = {
        "on_time": trade_time + timedelta(seconds=2),
        "fast_clock_59s": trade_time - timedelta(seconds=59),  # trade 59 s "ahead" of Kafka: tolerated
        "fast_clock_61s": trade_time - timedelta(seconds=61),
        "six_days_later": trade_time + timedelta(days=6),
        "eight_days_later": trade_time + timedelta(days=8),
    }
    bronze = None
    for offset, kafka_time in enumerate(received.values()):
        df = to_bronze(
            kafka_source_df(spark, [value], first_offset=offset, kafka_timestamp=kafka_time), now=NOW
        )
        bronze = df if bronze is None else bronze.unionByName(df)
    assert bronze is not None
    writers = {1: schema_json("binance_raw_trade")}
    outcomes = []
    for validated_at in (NOW, datetime(2099, 1, 1, tzinfo=UTC)):
        _, dlq = to_silver_and_dlq(bronze, "binance", writers, validated_at=validated_at)
        outcomes.append(sorted((r.kafka_offset, r.error_type) for r in dlq.collect()))
    names = list(received)
    assert (
        outcomes[0]
        == outcomes[1]
        == [
            (names.index("fast_clock_61s"), "timestamp_out_of_range"),
            (names.index("eight_days_later"), "timestamp_out_of_range"),
        ]
    )


def test_each_output_decodes_once_per_writer_schema(spark, binance):
    """The optimizer must not push the output filters into the classification: that inlines
    from_avro into every check that reads a decoded field ("Code grows beyond 64 KB" and an OOM).
    Two per writer schema: the decode into the reader's shape, and the writer-shaped one the
    canonical-encoding check re-encodes."""
    bronze = to_bronze(kafka_source_df(spark, [c.value for c in binance.cases]), now=NOW)
    writers = {i: json.dumps(s) for i, s in BINANCE_WRITERS.items()}
    for output in to_silver_and_dlq(bronze, "binance", writers, validated_at=NOW):
        plan = output._jdf.queryExecution().optimizedPlan().toString()
        assert plan.count("from_avro(") == 2 * len(writers)


def test_a_persisted_classification_splits_into_the_same_outputs(spark, binance):
    """What the Silver job does (classify once, persist, split) equals the composed transform."""
    bronze = _bronze(spark, "binance", binance.cases)
    writers = {i: json.dumps(s) for i, s in BINANCE_WRITERS.items()}
    classified = classify_bronze(bronze, "binance", writers, validated_at=NOW).persist()
    try:
        silver, dlq = split_classified(classified, "binance")
        assert_df_equality(silver, binance.silver_df, ignore_row_order=True)
        assert_df_equality(dlq, binance.dlq_df, ignore_row_order=True)
    finally:
        classified.unpersist()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7 days", timedelta(days=7)),
        ("36 hours", timedelta(hours=36)),
        ("1 minute", timedelta(minutes=1)),
        ("90 Seconds", timedelta(seconds=90)),
        ("2 weeks", timedelta(weeks=2)),
        (timedelta(hours=1), timedelta(hours=1)),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


def test_parse_duration_rejects_garbage():
    with pytest.raises(ValueError, match="duration"):
        parse_duration("a week or so")
