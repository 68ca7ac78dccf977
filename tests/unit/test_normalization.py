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
        ("BTCUSD", ("BTC", "USD")),
        ("1000SATSUSDT", ("1000SATS", "USDT")),
        ("USDT", None),
        ("BTCXYZ", None),
        ("", None),
        # strict syntax: lower case is rejected, not normalized; no separators, spaces or non-ASCII
        ("dogeusdt", None),
        ("BTC/USDT", None),
        (" BTCUSDT", None),
        ("\U0001f600USDT", None),
        ("BTCUSDT\n", None),
        ("ABCDEFGHIJKLMNOPUSDT", ("ABCDEFGHIJKLMNOP", "USDT")),  # 20 characters
        ("ABCDEFGHIJKLMNOPQUSDT", None),  # 21
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
        ("ETH/USDT", ("ETH", "USDT")),
        ("eth/usdt", None),
        ("BTC / USD", None),
        ("BTCUSD", None),
        ("BTC/", None),
        ("A/B/C", None),
        ("BTC/USD\n", None),
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
    assert [N.kraken_side(s) for s in ("b", "s", "buy", "sell", "BUY", " sell ", "x")] == [
        "buy",
        "sell",
        "buy",
        "sell",
        None,  # exactly as Kraken writes it: lower case, no padding
        None,
        None,
    ]


@pytest.mark.parametrize(
    ("exchange", "symbol", "error"),
    [
        ("binance", "BTCUSDT", None),
        ("binance", "", DlqErrorType.EMPTY_SYMBOL),
        ("binance", " ", DlqErrorType.INVALID_SYMBOL_SYNTAX),
        ("binance", "btcusdt", DlqErrorType.INVALID_SYMBOL_SYNTAX),
        ("binance", "BTC/USDT", DlqErrorType.INVALID_SYMBOL_SYNTAX),
        ("binance", "\U0001f600USDT", DlqErrorType.INVALID_SYMBOL_SYNTAX),
        ("binance", "BTCXYZ", DlqErrorType.UNKNOWN_SYMBOL_FORMAT),
        ("kraken", "XBT/USD", None),
        ("kraken", "xbt/usd", DlqErrorType.INVALID_SYMBOL_SYNTAX),
        ("kraken", "BTC-USD", DlqErrorType.INVALID_SYMBOL_SYNTAX),
        ("kraken", "BTCUSD", DlqErrorType.UNKNOWN_SYMBOL_FORMAT),
        ("kraken", "BTC//USD", DlqErrorType.UNKNOWN_SYMBOL_FORMAT),
    ],
)
def test_symbol_error_names_the_first_failing_symbol_check(exchange, symbol, error):
    assert N.symbol_error(exchange, symbol) == error


def test_plausible_ranges():
    low, high = N.PLAUSIBLE_TIME_RANGE
    assert N.datetime_from_micros(low) == datetime(2009, 1, 3, tzinfo=UTC)
    assert [N.plausible_time_micros(m) for m in (low - 1, low, high - 1, high, None)] == [
        None,
        low,
        high - 1,
        None,
        None,
    ]
    assert [N.is_plausible_trade_id(i) for i in (-1, 0, 2**53 - 1, 2**53)] == [False, True, True, False]


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("1717416000", 1717416000_000000),
        ("1717416000.", None),  # a fraction has digits
        (" 1717416000", None),
        ("1717416000\n", None),
        ("1717416000.1234567891", None),  # 10 fraction digits: not a time Kraken writes
        ("1717416000.5", 1717416000_500000),
        ("1717416000.123456", 1717416000_123456),
        ("1717416000.1234569", 1717416000_123456),  # truncated, not rounded
        ("2024-06-03T12:00:00.25Z", 1717416000_250000),
        ("2024-06-03T14:00:00+02:00", 1717416000_000000),
        ("2024-06-03T12:00:00", None),  # no offset: ambiguous
        ("2024-02-30T12:00:00Z", None),  # no such day
        ("2024-06-03 12:00:00Z", None),  # RFC3339 has the T
        ("2024-06-03T12:00:00+15:00", None),  # no such offset
        ("\u0662024-06-03T12:00:00Z", None),  # a non-ASCII digit
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
        ("0.0000000001", Decimal("1E-10")),
        ("1.10000000000", Decimal("1.1")),  # trailing zeros beyond the scale do not round
        ("-5", Decimal(-5)),  # a leading minus is syntax; the positivity check rejects it
        ("0001.5", Decimal("1.5")),
        ("1.12345678901", None),  # would round
        ("1.0000000000000000001", None),  # would round (also in Spark's widest decimal)
        ("123456789.0", None),  # 9 integer digits > 18 - 10
        ("NaN", None),
        ("abc", None),
        (" 0.0000000001 ", None),  # strict ASCII decimal syntax:
        (" 1", None),
        ("1\n", None),
        ("1e3", None),
        ("+1", None),
        (".5", None),
        ("1.", None),
        ("1_000", None),
        ("\u0661\u0662\u0663", None),  # Arabic-Indic digits
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
        ({"symbol": ""}, DlqErrorType.EMPTY_SYMBOL),
        ({"symbol": " "}, DlqErrorType.INVALID_SYMBOL_SYNTAX),
        ({"symbol": "btcusdt"}, DlqErrorType.INVALID_SYMBOL_SYNTAX),
        ({"symbol": "BTCXYZ"}, DlqErrorType.UNKNOWN_SYMBOL_FORMAT),
        ({"trade_id": -1}, DlqErrorType.INVALID_TRADE_ID),
        ({"price": None}, DlqErrorType.MISSING_FIELD),
        ({"price": None, "symbol": ""}, DlqErrorType.MISSING_FIELD),  # Silver's order: missing first
        ({"price": "1e-20"}, DlqErrorType.INVALID_DECIMAL),
        ({"price": " 1"}, DlqErrorType.INVALID_DECIMAL),
        ({"trade_time_ms": 0}, DlqErrorType.INVALID_TIMESTAMP),
        ({"ingestion_timestamp": 2**62}, DlqErrorType.INVALID_TIMESTAMP),
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
        ({"side": "BUY"}, DlqErrorType.INVALID_SIDE),
        ({"trade_time_seconds": "later"}, DlqErrorType.INVALID_TIMESTAMP),
        ({"trade_time_seconds": "100.5"}, DlqErrorType.INVALID_TIMESTAMP),  # 1970: not plausible
        ({"symbol": "XBT/usd"}, DlqErrorType.INVALID_SYMBOL_SYNTAX),
        ({"trade_id": 2**53}, DlqErrorType.INVALID_TRADE_ID),
    ],
)
def test_python_kraken_rules_raise_the_dlq_error(sample_kraken_raw_trade, raw_overrides, error):
    with pytest.raises(N.NormalizationError) as raised:
        N.kraken_to_v2({**sample_kraken_raw_trade, **raw_overrides}, 1, datetime.now(UTC))
    assert raised.value.error_type is error


SYMBOLS_B = [
    "BTCUSDT", "ETHBTC", "BTCFDUSD", "ETHTUSD", "dogeusdt", "XBTUSD", "USDT", "BTCXYZ", "", " solusdc ",
    "BTC/USDT", "\U0001f600USDT", "BTCUSDT\n", "BTC\u0130USDT", "ABCDEFGHIJKLMNOPQUSDT", "1000SATSUSDT",
]  # fmt: skip
SYMBOLS_K = [
    "BTC/USD", "XBT/USD", "XDG/EUR", "eth/usdt", "BTCUSD", "BTC/", "A/B/C", " ada/usd ", "BTC/USD\n",
    "BTC//USD", "/USD", "ABCDEFGHIJKLMNOPQ/USD", "\u00c9TH/USD",
]  # fmt: skip
SIDES_K = ["b", "s", "buy", "sell", "BUY", " sell ", "x", "", "sell\n"]
TIMES_K = [
    "1717416000", "1717416000.", "1717416000.5", "1717416000.1234569", "2024-06-03T12:00:00.25Z",
    "2024-06-03T14:00:00+02:00", "2024-06-03T12:00:00", "soon", "", " 1717416000", "1717416000\n",
    "2024-02-30T12:00:00Z", "2023-02-29T00:00:00Z", "2024-02-29T23:59:59.999999-14:00",
    "2024-06-03T12:00:00+15:00", "2024-06-03 12:00:00Z", "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z",
    "1717416000.1234567891",
]  # fmt: skip
DECIMALS = [
    "43210.12", " 0.0000000001 ", "1.12345678901", "123456789.0", "NaN", "abc", "-5", "1e3", "1.10000000000",
    "1.0000000000000000001", "0.00000000000000000001", "99999999.9999999999", "100000000", "-0", "+1",
    "1\n", "\u0661\u0662\u0663", "1.", ".5", "0001.5", "1" * 40,
    # more fractional digits than the scale: rejected even where a cast to the wide type rounds them away
    "1e-20", "0.00000000001", "2.5000000000000000000000", "12345e-14", "1234500e-15", "12345e-10", "1e30",
    "0e-40", "+7.5", "5.", ".", "1e", "1.2.3",
]  # fmt: skip
CODES = ["BTC", "XBT", "xdg", "USDT", "PEPE", "EUR"]


PAIR_COLS = {"binance": N.binance_pair_cols, "kraken": N.kraken_pair_cols}


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

    errors = spark.createDataFrame(
        [(e, s) for e in ("binance", "kraken") for s in SYMBOLS_B + SYMBOLS_K], "e STRING, s STRING"
    )
    spark_errors = [
        r[0]
        for exchange in ("binance", "kraken")
        for r in errors.where(F.col("e") == exchange)
        .select(N.symbol_error_col(exchange, F.col("s"), *PAIR_COLS[exchange](F.col("s"))))
        .collect()
    ]
    assert spark_errors == [
        N.symbol_error(e, s) for e in ("binance", "kraken") for s in SYMBOLS_B + SYMBOLS_K
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
