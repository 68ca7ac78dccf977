"""Normalization rules: the pure-Python functions, and their Spark twins agreeing with them on the
same inputs (one query), so the two can never drift apart."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pyspark.sql import functions as F

from spark_jobs import normalization as N
from spark_jobs.transforms.dlq import DlqErrorType

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("symbol", "expected"),
    [
        ("BTCUSDT", ("BTC", "USDT")),
        ("ETHBTC", ("ETH", "BTC")),
        ("BTCFDUSD", ("BTC", "FDUSD")),
        ("ETHTUSD", ("ETH", "TUSD")),
        ("BNBEUR", ("BNB", "EUR")),
        ("dogeusdt", ("DOGE", "USDT")),
        ("BTCUSD", ("BTC", "USD")),
        ("USDT", None),
        ("BTCXYZ", None),
        ("", None),
    ],
)
def test_split_binance_symbol(symbol, expected):
    assert N.split_binance_symbol(symbol) == expected


@pytest.mark.parametrize(
    ("symbol", "expected"),
    [
        ("BTC/USD", ("BTC", "USD")),
        ("XBT/USD", ("BTC", "USD")),
        ("XDG/EUR", ("DOGE", "EUR")),
        ("eth/usdt", ("ETH", "USDT")),
        ("BTCUSD", None),
        ("BTC/", None),
        ("A/B/C", None),
    ],
)
def test_split_kraken_symbol(symbol, expected):
    assert N.split_kraken_symbol(symbol) == expected


def test_currency_names_from_the_seed_list():
    assert [N.currency_name(c) for c in ("BTC", "ETH", "BNB", "ADA", "SOL", "XRP", "DOT", "DOGE")] == [
        "Bitcoin", "Ethereum", "Binance Coin", "Cardano", "Solana", "Ripple", "Polkadot", "Dogecoin",
    ]  # fmt: skip
    assert [N.currency_name(c) for c in ("USD", "USDT", "USDC", "EUR")] == [
        "US Dollar",
        "Tether",
        "USD Coin",
        "Euro",
    ]
    assert N.currency_name("PEPE") == "PEPE"


def test_sides():
    assert (N.binance_side(True), N.binance_side(False)) == ("sell", "buy")
    assert [N.kraken_side(s) for s in ("b", "s", "BUY", " sell ", "x")] == [
        "buy",
        "sell",
        "buy",
        "sell",
        None,
    ]


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("1717416000", 1717416000_000000),
        ("1717416000.", 1717416000_000000),
        ("1717416000.5", 1717416000_500000),
        ("1717416000.123456", 1717416000_123456),
        ("1717416000.1234569", 1717416000_123456),  # truncated, not rounded
        ("2024-06-03T12:00:00.25Z", 1717416000_250000),
        ("2024-06-03T14:00:00+02:00", 1717416000_000000),
        ("2024-06-03T12:00:00", None),  # no offset: ambiguous
        ("soon", None),
    ],
)
def test_kraken_time_to_micros(text, micros):
    assert N.kraken_time_to_micros(text) == micros


def test_micros_round_trip_and_dates():
    moment = datetime(2024, 6, 3, 23, 59, 59, 999999, tzinfo=UTC)
    micros = N.micros_from_datetime(moment)
    assert N.datetime_from_micros(micros) == moment
    assert N.utc_yyyymmdd(micros) == "20240603"
    assert N.utc_yyyymmdd(micros + 1) == "20240604"
    assert N.ms_to_micros(1717416000123) == 1717416000123000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("43210.12", Decimal("43210.1200000000")),
        (" 0.0000000001 ", Decimal("1E-10")),
        ("1.12345678901", None),  # would round
        ("123456789.0", None),  # 9 integer digits > 18 - 10
        ("NaN", None),
        ("abc", None),
    ],
)
def test_parse_decimal_is_exact(text, expected):
    assert N.parse_decimal(text, 18, 10) == expected


def test_trade_value_usd_needs_a_usd_quote():
    assert N.trade_value_usd(Decimal("2.5"), Decimal("4"), "USDC") == Decimal("10.0")
    with pytest.raises(N.NormalizationError) as raised:
        N.trade_value_usd(Decimal("2.5"), Decimal("4"), "EUR")
    assert raised.value.error_type is DlqErrorType.UNSUPPORTED_QUOTE_CURRENCY


def test_message_id_format():
    micros = N.micros_from_datetime(datetime(2024, 6, 3, 12, tzinfo=UTC))
    assert N.message_id("binance", "BTC/USDT", micros, "123") == "binance-BTC/USDT-20240603-123"


def test_message_id_tells_apart_symbols_sharing_a_trade_id(sample_binance_raw_trade, sample_kraken_raw_trade):
    """Both exchanges number trades per symbol: the same id on two symbols, same day, is two trades;
    Kraken's XBT/USD and BTC/USD are one book, so they share ids."""
    at = datetime(2024, 6, 3, 12, tzinfo=UTC)
    btc = N.binance_to_v2({**sample_binance_raw_trade, "symbol": "BTCUSDT", "trade_id": 7}, 1, at)
    eth = N.binance_to_v2({**sample_binance_raw_trade, "symbol": "ETHUSDT", "trade_id": 7}, 1, at)
    assert btc["message_id"] != eth["message_id"]
    kraken = {**sample_kraken_raw_trade, "trade_id": 7}
    ids = {N.kraken_to_v2({**kraken, "symbol": s}, 1, at)["message_id"] for s in ("XBT/USD", "BTC/USD")}
    assert len(ids) == 1
    assert N.kraken_to_v2({**kraken, "symbol": "ETH/USD"}, 1, at)["message_id"] not in ids


def test_kraken_hash_is_deterministic_and_sensitive():
    args = ("BTC/USD", 1717416000_123456, Decimal("43210.1"), Decimal("0.5"), "buy")
    # the same trade written differently (trailing zeros) hashes the same: decimals are canonical
    assert N.kraken_hash_id(*args) == N.kraken_hash_id(
        *args[:2], Decimal("43210.100"), Decimal("0.50"), "buy"
    )
    assert N.kraken_hash_id(*args) != N.kraken_hash_id("BTC/USD", 1717416000_123457, *args[2:])
    assert N.canonical_decimal(Decimal("43210.1"), 10) == "43210.1000000000"


@pytest.mark.parametrize(
    ("raw_overrides", "error"),
    [
        ({"symbol": " "}, DlqErrorType.EMPTY_SYMBOL),
        ({"symbol": "BTCXYZ"}, DlqErrorType.UNKNOWN_SYMBOL_FORMAT),
        ({"price": None}, DlqErrorType.MISSING_FIELD),
        ({"price": "1e-20"}, DlqErrorType.INVALID_DECIMAL),
        ({"price": "-1"}, DlqErrorType.NON_POSITIVE_PRICE),
        ({"quantity": "0"}, DlqErrorType.NON_POSITIVE_QUANTITY),
        ({"symbol": "ETHBTC"}, DlqErrorType.UNSUPPORTED_QUOTE_CURRENCY),
    ],
)
def test_python_binance_rules_raise_the_dlq_error(sample_binance_raw_trade, raw_overrides, error):
    with pytest.raises(N.NormalizationError) as raised:
        N.binance_to_v2({**sample_binance_raw_trade, **raw_overrides}, 1, datetime.now(UTC))
    assert raised.value.error_type is error


@pytest.mark.parametrize(
    ("raw_overrides", "error"),
    [
        ({"side": None}, DlqErrorType.MISSING_FIELD),
        ({"side": "x"}, DlqErrorType.INVALID_SIDE),
        ({"trade_time_seconds": "later"}, DlqErrorType.INVALID_TIMESTAMP),
    ],
)
def test_python_kraken_rules_raise_the_dlq_error(sample_kraken_raw_trade, raw_overrides, error):
    with pytest.raises(N.NormalizationError) as raised:
        N.kraken_to_v2({**sample_kraken_raw_trade, **raw_overrides}, 1, datetime.now(UTC))
    assert raised.value.error_type is error


SYMBOLS_B = [
    "BTCUSDT",
    "ETHBTC",
    "BTCFDUSD",
    "ETHTUSD",
    "dogeusdt",
    "XBTUSD",
    "USDT",
    "BTCXYZ",
    "",
    " solusdc ",
]
SYMBOLS_K = ["BTC/USD", "XBT/USD", "XDG/EUR", "eth/usdt", "BTCUSD", "BTC/", "A/B/C", " ada/usd "]
SIDES_K = ["b", "s", "BUY", " sell ", "x", ""]
TIMES_K = [
    "1717416000", "1717416000.", "1717416000.5", "1717416000.1234569", "2024-06-03T12:00:00.25Z",
    "2024-06-03T14:00:00+02:00", "2024-06-03T12:00:00", "soon", "",
]  # fmt: skip
DECIMALS = [
    "43210.12", " 0.0000000001 ", "1.12345678901", "123456789.0", "NaN", "abc", "-5", "1e3",
    # more fractional digits than the scale: rejected even where a cast to the wide type rounds them away
    "1.0000000000000000001", "1e-20", "0.00000000001", "2.5000000000000000000000", "12345e-14",
    "1234500e-15", "12345e-10", "1e30", "0e-40", "+7.5", ".5", "5.", ".", "1e", "1.2.3",
]  # fmt: skip
CODES = ["BTC", "XBT", "xdg", "USDT", "PEPE", "EUR"]


def _column(spark, values):
    return spark.createDataFrame([(v,) for v in values], "v STRING")


def test_spark_rules_agree_with_python_rules(spark):
    """Every Spark twin on the same inputs as its Python rule, in one query per input list."""
    binance = _column(spark, SYMBOLS_B).select(*N.binance_pair_cols(F.col("v"))).collect()
    assert [tuple(r) if r[1] is not None else None for r in binance] == [
        N.split_binance_symbol(s) for s in SYMBOLS_B
    ]

    kraken = _column(spark, SYMBOLS_K).select(*N.kraken_pair_cols(F.col("v"))).collect()
    assert [tuple(r) if r[0] is not None else None for r in kraken] == [
        N.split_kraken_symbol(s) for s in SYMBOLS_K
    ]

    sides = _column(spark, SIDES_K).select(N.kraken_side_col(F.col("v"))).collect()
    assert [r[0] for r in sides] == [N.kraken_side(s) for s in SIDES_K]

    times = _column(spark, TIMES_K).select(N.kraken_time_micros_col(F.col("v"))).collect()
    assert [r[0] for r in times] == [N.kraken_time_to_micros(t) for t in TIMES_K]

    decimals = _column(spark, DECIMALS).select(N.decimal_col(F.col("v"), 18, 10)).collect()
    assert [r[0] for r in decimals] == [N.parse_decimal(d, 18, 10) for d in DECIMALS]

    codes = _column(spark, CODES).select(
        N.normalize_code_col(F.col("v")), N.currency_name_col(N.normalize_code_col(F.col("v")))
    )
    assert [tuple(r) for r in codes.collect()] == [
        (N.normalize_code(c), N.currency_name(N.normalize_code(c))) for c in CODES
    ]


def test_spark_ids_dates_and_pegs_agree_with_python(spark):
    moments = [
        datetime(2024, 6, 3, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2024, 6, 4, tzinfo=UTC),
        datetime(1999, 12, 31, 13, 30, tzinfo=UTC),
    ]
    rows = [
        (N.micros_from_datetime(m), "BTC/USD", Decimal("43210.1"), Decimal("0.5"), "buy", quote)
        for m, quote in zip(moments, ["USD", "EUR", "USDT"], strict=True)
    ]
    df = spark.createDataFrame(
        rows, "m BIGINT, s STRING, p DECIMAL(18,10), q DECIMAL(19,8), side STRING, quote STRING"
    )
    m = F.col("m")
    out = df.select(
        N.message_id_col("kraken", F.col("s"), m, F.lit("42")),
        N.kraken_hash_id_col(F.col("s"), m, F.col("p"), F.col("q"), F.col("side")),
        N.utc_date_col(m),
        N.utc_hour_col(m),
        N.is_usd_pegged_col(F.col("quote")),
        N.binance_side_col(F.col("side") == "buy"),
    ).collect()
    for row, (micros, symbol, price, quantity, side, quote) in zip(out, rows, strict=True):
        moment = N.datetime_from_micros(micros)
        assert row[0] == N.message_id("kraken", symbol, micros, "42")
        assert row[1] == N.kraken_hash_id(symbol, micros, price, quantity, side)
        assert (row[2], row[3]) == (moment.date(), moment.hour)
        assert row[4] is N.is_usd_pegged(quote)
        assert row[5] == N.binance_side(True)
