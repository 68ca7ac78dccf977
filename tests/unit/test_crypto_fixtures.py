"""The fixtures and the synthetic factory: every generated record validates against its .avsc, data
is realistic and seeded, and the Confluent wire format round-trips."""

from __future__ import annotations

import itertools
import struct
from decimal import Decimal

import pytest

from spark_jobs.avro_schemas import load_schema
from spark_jobs.normalization import micros_from_datetime
from spark_jobs.synthetic_trades import (
    CryptoDataFactory,
    confluent_schema_id,
    decode_confluent,
    encode_confluent,
    validate_record,
)
from spark_jobs.transforms.dlq import DlqErrorType

pytestmark = pytest.mark.unit


def test_every_generated_record_validates_against_its_avsc(
    sample_binance_raw_trade,
    sample_kraken_raw_trade,
    sample_v2_unified_trade,
    binance_trade_sequence,
    kraken_trade_sequence,
    v2_mixed_trades,
    crypto_data_factory,
):
    checked = 0
    for record in [sample_binance_raw_trade, *binance_trade_sequence]:
        checked += validate_record("binance_raw_trade", record)
    kraken_without_ids = crypto_data_factory.kraken_trade_sequence(10, with_trade_id=False)
    for record in [sample_kraken_raw_trade, *kraken_trade_sequence, *kraken_without_ids]:
        checked += validate_record("kraken_raw_trade", record)
    for record in [sample_v2_unified_trade, *v2_mixed_trades]:
        checked += validate_record("trade_v2", record)
    assert checked == 1 + 50 + 1 + 50 + 10 + 1 + 50


def test_invalid_records_break_the_rule_they_name(crypto_data_factory):
    """The raw-field cases still validate against the schema (they are valid Avro, invalid trades)."""
    schema = load_schema("binance_raw_trade")
    for invalid in crypto_data_factory.invalid_trade_records(binance_schema_id=3, unknown_schema_id=77):
        assert invalid.value is not None
        if invalid.expected_error is DlqErrorType.BAD_MAGIC_BYTE:
            assert invalid.value[0] != 0
        elif invalid.expected_error is DlqErrorType.UNKNOWN_SCHEMA_ID:
            assert confluent_schema_id(invalid.value) == 77
        elif invalid.expected_error is DlqErrorType.AVRO_DECODE_ERROR:
            with pytest.raises(EOFError):
                decode_confluent(invalid.value, schema)
        else:
            assert confluent_schema_id(invalid.value) == 3
            _, record = decode_confluent(invalid.value, schema)
            validate_record("binance_raw_trade", record)


def test_invalid_trade_records_fixture_covers_the_issue_cases(invalid_trade_records):
    cases = {r.case for r in invalid_trade_records}
    assert cases == {
        "missing_price",
        "missing_quantity",
        "negative_price",
        "zero_quantity",
        "empty_symbol",
        "bad_magic_byte",
        "unknown_schema_id",
        "truncated_avro",
    }


def test_sequences_span_an_hour_in_time_order(binance_trade_sequence, kraken_trade_sequence):
    times = [t["trade_time_ms"] for t in binance_trade_sequence]
    assert times == sorted(times) and len(set(times)) == 50
    assert 30 * 60_000 < times[-1] - times[0] < 90 * 60_000
    kraken_times = [Decimal(t["trade_time_seconds"]) for t in kraken_trade_sequence]
    assert kraken_times == sorted(kraken_times)
    assert 1800 < kraken_times[-1] - kraken_times[0] < 5400


def test_prices_random_walk_inside_realistic_ranges(crypto_data_factory):
    btc = [Decimal(t["price"]) for t in crypto_data_factory.binance_trade_sequence(200)]
    eth = [Decimal(t["price"]) for t in crypto_data_factory.binance_trade_sequence(200, base="ETH")]
    assert all(30_000 <= p <= 70_000 for p in btc)
    assert all(1_500 <= p <= 4_500 for p in eth)
    steps = [abs(b / a - 1) for a, b in itertools.pairwise(btc)]
    assert max(steps) < Decimal("0.01"), "a random walk moves in small steps"
    assert len(set(btc)) > 150, "prices move"


def test_quantity_is_inversely_related_to_price(crypto_data_factory):
    btc = crypto_data_factory.binance_trade_sequence(300)
    doge = crypto_data_factory.kraken_trade_sequence(300, base="DOGE")
    median_btc = sorted(Decimal(t["quantity"]) for t in btc)[150]
    median_doge = sorted(Decimal(t["quantity"]) for t in doge)[150]
    assert median_doge > median_btc * 10_000


def test_same_seed_same_data_different_seed_different_data():
    assert CryptoDataFactory(7).binance_trade_sequence(5) == CryptoDataFactory(7).binance_trade_sequence(5)
    assert CryptoDataFactory(7).binance_trade_sequence(5) != CryptoDataFactory(8).binance_trade_sequence(5)


def test_v2_mixed_trades_has_25_of_each_in_time_order(v2_mixed_trades):
    assert [t["exchange"] for t in v2_mixed_trades].count("binance") == 25
    assert [t["exchange"] for t in v2_mixed_trades].count("kraken") == 25
    times = [t["timestamp"] for t in v2_mixed_trades]
    assert times == sorted(times)
    assert len({t["message_id"] for t in v2_mixed_trades}) == 50


def test_confluent_wire_format_round_trip(sample_kraken_raw_trade):
    schema = load_schema("kraken_raw_trade")
    data = encode_confluent(258, schema, sample_kraken_raw_trade)
    assert data[:5] == b"\x00\x00\x00\x01\x02"
    assert struct.unpack(">I", data[1:5])[0] == 258
    schema_id, record = decode_confluent(data, schema)
    assert schema_id == 258
    micros = record.pop("ingestion_timestamp")
    expected = dict(sample_kraken_raw_trade)
    expected_micros = expected.pop("ingestion_timestamp")
    assert record == expected
    assert micros_from_datetime(micros) == expected_micros


def test_decode_confluent_rejects_bad_header():
    with pytest.raises(ValueError, match="magic byte"):
        decode_confluent(b"\x01\x00\x00\x00\x01abc", load_schema("binance_raw_trade"))
    with pytest.raises(ValueError, match="magic byte"):
        confluent_schema_id(b"\x00\x00")


def test_decode_confluent_with_a_reader_schema_resolves_an_older_writer(sample_kraken_raw_trade):
    """A v1 Kraken writer without trade_id decodes under the current reader with trade_id null."""
    current = load_schema("kraken_raw_trade")
    v1 = load_schema("kraken_raw_trade")
    v1["fields"] = [f for f in v1["fields"] if f["name"] != "trade_id"]
    old_record = {k: v for k, v in sample_kraken_raw_trade.items() if k != "trade_id"}
    _, record = decode_confluent(encode_confluent(1, v1, old_record), v1, current)
    assert record["trade_id"] is None
    assert record["price"] == sample_kraken_raw_trade["price"]


def test_v2_unified_trade_rejects_unknown_exchange(crypto_data_factory):
    with pytest.raises(ValueError, match="unknown exchange"):
        crypto_data_factory.v2_unified_trade(exchange="coinbase")
