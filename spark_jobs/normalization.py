"""Normalization rules from raw exchange trades to the V2 unified trade, twice from one set of lists:
as pure Python functions (the synthetic feed, fixtures and test oracles use them) and as Spark column
expressions (Silver uses them). Both are built from the constants below; tests check they agree.

Exactness: prices and quantities are decimals end to end (never floats), and times are integer
epoch microseconds computed with integer/string arithmetic only.

Strictness: Silver accepts only what an exchange could send. Every text field is matched exactly as
it arrives, with no trimming and no case folding: a symbol is upper-case ASCII letters and digits
(Binance: ending in a known quote asset; Kraken: BASE/QUOTE), a price or quantity is ASCII decimal
text (an optional leading minus, digits, an optional fraction; no whitespace, exponent or plus sign),
a Kraken side is b/s/buy/sell as Kraken writes it. Lower-case symbols are REJECTED, not normalized:
neither exchange sends them in a trade, so one is a sign of a broken producer (README: "What Silver
accepts"). Trade ids and times must lie in plausible ranges (TRADE_ID_RANGE, PLAUSIBLE_TIME_RANGE).

Every pattern below is a body without anchors: Python applies it with re.fullmatch, Spark with
`^(?:body)\\z` (anchored), so a trailing newline matches neither ($ would accept one in both engines).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Context, Decimal, InvalidOperation
from typing import Any, Final

from pyspark.sql import Column
from pyspark.sql import functions as F

from spark_jobs.avro_schemas import decimal_type, field_names
from spark_jobs.transforms.dlq import DlqErrorType

# --- the lists (one source) ----------------------------------------------------------------------

#: Quote assets a Binance symbol may end with; the longest match wins (BTCFDUSD is BTC/FDUSD, not
#: BTCFD/USD).
QUOTE_ASSETS: Final[tuple[str, ...]] = (
    "USDT", "USDC", "FDUSD", "TUSD", "BUSD", "USDP", "DAI", "USD",
    "BTC", "ETH", "BNB", "EUR", "TRY", "GBP", "BRL", "JPY", "AUD",
)  # fmt: skip
#: The order a symbol's ending is tried in (suffix tests, not a regex: Silver runs this per row).
QUOTE_ASSETS_LONGEST_FIRST: Final = tuple(sorted(QUOTE_ASSETS, key=len, reverse=True))

#: Exchange-specific codes for the same currency (Kraken's legacy ISO-4217-style codes).
CURRENCY_ALIASES: Final[dict[str, str]] = {"XBT": "BTC", "XDG": "DOGE"}

#: Currency code -> name. Codes not listed are kept as the code.
CURRENCY_NAMES: Final[dict[str, str]] = {
    "BTC": "Bitcoin",
    "ETH": "Ethereum",
    "BNB": "Binance Coin",
    "ADA": "Cardano",
    "SOL": "Solana",
    "XRP": "Ripple",
    "DOT": "Polkadot",
    "DOGE": "Dogecoin",
    "USD": "US Dollar",
    "USDT": "Tether",
    "USDC": "USD Coin",
    "EUR": "Euro",
}

#: Quotes worth one US dollar: trade_value_usd = price x quantity. Any other quote goes to the DLQ
#: as unsupported_quote_currency (see the README for extending this with FX rates).
USD_PEGGED_QUOTES: Final[frozenset[str]] = frozenset(
    {"USD", "USDT", "USDC", "FDUSD", "TUSD", "BUSD", "USDP", "DAI"}
)

#: Kraken sends b/s (websocket v1) or buy/sell (v2), lower-case; compared exactly.
KRAKEN_SIDES: Final[dict[str, str]] = {"b": "buy", "s": "sell", "buy": "buy", "sell": "sell"}

#: Characters of a symbol as the exchange writes it (anything else: invalid_symbol_syntax).
BINANCE_SYMBOL_SYNTAX: Final = r"[A-Z0-9]{1,20}"
KRAKEN_SYMBOL_SYNTAX: Final = r"[A-Z0-9/]{1,33}"
#: Kraken's BASE/QUOTE shape (syntax ok but another shape: unknown_symbol_format).
KRAKEN_PAIR_PATTERN: Final = r"([A-Z0-9]{1,16})/([A-Z0-9]{1,16})"
#: A price or quantity: ASCII digits, an optional fraction, an optional leading minus (which the
#: positivity checks then reject, with a reason more useful than "not a decimal").
DECIMAL_SYNTAX: Final = r"-?[0-9]+(?:\.[0-9]+)?"
#: Epoch seconds with an optional fraction of up to 9 digits, exactly as Kraken v1 sends it.
EPOCH_SECONDS_PATTERN: Final = r"([0-9]{1,12})(?:\.([0-9]{1,9}))?"
#: RFC3339 as Kraken v2 sends it ('2023-09-25T07:49:37.708706Z'): up to 6 fraction digits, an offset
#: of Z or +-HH:MM up to 14 hours (the real range, and one both Python and Spark parse the same way).
RFC3339_PATTERN: Final = (
    r"[1-9][0-9]{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
    r"(?:Z|[+-](?:0[0-9]|1[0-4]):[0-5][0-9])"
)

#: Trade ids both exchanges can give: non-negative and exact in a JSON double (2^53 - 1), which is
#: what the websocket JSON carries.
TRADE_ID_RANGE: Final = (0, 2**53 - 1)

MICROS_PER_SECOND: Final = 1_000_000
MICROS_PER_HOUR: Final = 3_600 * MICROS_PER_SECOND
MICROS_PER_DAY: Final = 24 * MICROS_PER_HOUR
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
#: [from, until) epoch µs of a plausible trade or ingestion time: from Bitcoin's genesis block
#: (2009-01-03) to 2100. Tighter, relative bounds (age, future) are Silver's range check.
PLAUSIBLE_TIME_RANGE: Final = (
    int((datetime(2009, 1, 3, tzinfo=UTC) - _EPOCH).total_seconds()) * 1_000_000,
    int((datetime(2100, 1, 1, tzinfo=UTC) - _EPOCH).total_seconds()) * 1_000_000,
)

PRICE_TYPE: Final = decimal_type("trade_v2", "price")
QUANTITY_TYPE: Final = decimal_type("trade_v2", "quantity")
#: Length of the hex hash used as a Kraken trade id when Kraken gives none (64 bits).
KRAKEN_HASH_ID_LENGTH: Final = 16


class NormalizationError(ValueError):
    """A raw trade that cannot become a V2 trade; error_type says which DLQ error it is."""

    def __init__(self, error_type: DlqErrorType, reason: str) -> None:
        super().__init__(f"{error_type.value}: {reason}")
        self.error_type = error_type
        self.reason = reason


# --- pure Python rules ---------------------------------------------------------------------------


def matches(pattern: str, text: str) -> bool:
    """The whole text matches the pattern body (Spark twin: matches_col)."""
    return re.fullmatch(pattern, text) is not None


def normalize_code(code: str) -> str:
    """Exchange alias -> common code (XBT -> BTC); the code is already upper-case by the syntax."""
    return CURRENCY_ALIASES.get(code, code)


def currency_name(code: str) -> str:
    return CURRENCY_NAMES.get(code, code)


def split_binance_symbol(symbol: str) -> tuple[str, str] | None:
    """BTCUSDT -> (BTC, USDT): the longest known quote asset that ends the symbol after a non-empty
    base; None when there is none or the symbol breaks BINANCE_SYMBOL_SYNTAX."""
    if not matches(BINANCE_SYMBOL_SYNTAX, symbol):
        return None
    for quote in QUOTE_ASSETS_LONGEST_FIRST:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return normalize_code(symbol[: -len(quote)]), quote
    return None


def split_kraken_symbol(symbol: str) -> tuple[str, str] | None:
    """XBT/USD -> (BTC, USD); None unless exactly BASE/QUOTE of upper-case ASCII letters and digits."""
    pair = re.fullmatch(KRAKEN_PAIR_PATTERN, symbol)
    if pair is None:
        return None
    return normalize_code(pair.group(1)), normalize_code(pair.group(2))


SYMBOL_SYNTAX: Final[dict[str, str]] = {"binance": BINANCE_SYMBOL_SYNTAX, "kraken": KRAKEN_SYMBOL_SYNTAX}
SPLIT_SYMBOL: Final = {"binance": split_binance_symbol, "kraken": split_kraken_symbol}


def symbol_error(exchange: str, symbol: str) -> DlqErrorType | None:
    """Which symbol check a raw symbol fails, in Silver's order; None for a valid symbol."""
    if symbol == "":
        return DlqErrorType.EMPTY_SYMBOL
    if not matches(SYMBOL_SYNTAX[exchange], symbol):
        return DlqErrorType.INVALID_SYMBOL_SYNTAX
    if SPLIT_SYMBOL[exchange](symbol) is None:
        return DlqErrorType.UNKNOWN_SYMBOL_FORMAT
    return None


def binance_side(is_buyer_maker: bool) -> str:
    """The taker's side: a buyer-maker trade was a taker sell."""
    return "sell" if is_buyer_maker else "buy"


def kraken_side(raw_side: str) -> str | None:
    return KRAKEN_SIDES.get(raw_side)


def is_plausible_trade_id(trade_id: int) -> bool:
    return TRADE_ID_RANGE[0] <= trade_id <= TRADE_ID_RANGE[1]


def plausible_time_micros(micros: int | None) -> int | None:
    """micros when inside PLAUSIBLE_TIME_RANGE, else None."""
    if micros is None or not PLAUSIBLE_TIME_RANGE[0] <= micros < PLAUSIBLE_TIME_RANGE[1]:
        return None
    return micros


def ms_to_micros(epoch_ms: int) -> int:
    return epoch_ms * 1000


def kraken_time_to_micros(value: str) -> int | None:
    """'1700000000.1234567' -> 1700000000123456 (fraction truncated to µs, no float), or an RFC3339
    time; None for any other text (see EPOCH_SECONDS_PATTERN, RFC3339_PATTERN) or a date that does
    not exist. Not range-checked: see plausible_time_micros."""
    epoch = re.fullmatch(EPOCH_SECONDS_PATTERN, value)
    if epoch:
        seconds, fraction = epoch.group(1), epoch.group(2) or ""
        return int(seconds) * MICROS_PER_SECOND + int(fraction[:6].ljust(6, "0"))
    if not matches(RFC3339_PATTERN, value):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:  # a day the month does not have
        return None
    return micros_from_datetime(parsed)


def micros_from_datetime(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * MICROS_PER_SECOND + delta.microseconds


def datetime_from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def utc_yyyymmdd(micros: int) -> str:
    return datetime_from_micros(micros).strftime("%Y%m%d")


def parse_decimal(text: str, precision: int, scale: int) -> Decimal | None:
    """The exact decimal an ASCII decimal text (DECIMAL_SYNTAX) denotes if it fits
    decimal(precision, scale) without rounding."""
    if not matches(DECIMAL_SYNTAX, text):
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    try:
        quantized = value.quantize(Decimal(1).scaleb(-scale))
    except InvalidOperation:  # more digits than the context's 28: far more than any V2 decimal
        return None
    if quantized != value or len(quantized.as_tuple().digits) > precision:
        return None
    return quantized


def canonical_decimal(value: Decimal, scale: int) -> str:
    """Plain fixed-scale text, identical to Spark's cast(decimal(p, scale) as string)."""
    return format(value.quantize(Decimal(1).scaleb(-scale)), "f")


def is_usd_pegged(quote_code: str) -> bool:
    return quote_code in USD_PEGGED_QUOTES


def trade_value_usd(price: Decimal, quantity: Decimal, quote_code: str) -> Decimal:
    if not is_usd_pegged(quote_code):
        raise NormalizationError(
            DlqErrorType.UNSUPPORTED_QUOTE_CURRENCY, f"quote {quote_code} has no USD rate"
        )
    # Exact: the default context (28 digits) would round a product of up to 18 + 19 digits.
    return Context(prec=PRICE_TYPE.precision + QUANTITY_TYPE.precision).multiply(price, quantity)


def message_id(exchange: str, symbol: str, timestamp_micros: int, trade_key: str) -> str:
    """``{exchange}-{BASE/QUOTE}-{YYYYMMDD}-{trade id}``, e.g. ``binance-BTC/USDT-20240603-3000123``.

    Both exchanges number trades per symbol (Binance per symbol, Kraken per book), so a trade id alone
    is not an identity: the V2 symbol is part of it. The symbol is the normalized one (Kraken's XBT/USD
    and BTC/USD are one book), and every part is a Gold column, so the id can be recomputed from a row.
    """
    return f"{exchange}-{symbol}-{utc_yyyymmdd(timestamp_micros)}-{trade_key}"


def kraken_hash_id(symbol: str, timestamp_micros: int, price: Decimal, quantity: Decimal, side: str) -> str:
    """A deterministic id for a Kraken trade that carries none: the same trade replayed, even from the
    other websocket version (XBT/USD vs BTC/USD, b vs buy), hashes to the same id."""
    text = "|".join(
        (
            symbol,
            str(timestamp_micros),
            canonical_decimal(price, PRICE_TYPE.scale),
            canonical_decimal(quantity, QUANTITY_TYPE.scale),
            side,
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()[:KRAKEN_HASH_ID_LENGTH]


@dataclass(frozen=True)
class _Pair:
    base: str
    quote: str

    @property
    def symbol(self) -> str:
        return f"{self.base}/{self.quote}"


def _pair(exchange: str, raw_symbol: str) -> _Pair:
    error = symbol_error(exchange, raw_symbol)
    if error is not None:
        raise NormalizationError(error, f"symbol {raw_symbol!r}")
    split = SPLIT_SYMBOL[exchange](raw_symbol)
    assert split is not None
    return _Pair(*split)


def _require(raw: dict[str, Any], names: tuple[str, ...]) -> None:
    missing = [n for n in names if raw.get(n) is None]
    if missing:
        raise NormalizationError(DlqErrorType.MISSING_FIELD, f"missing: {', '.join(missing)}")


def _check_trade_id(trade_id: int | None) -> None:
    if trade_id is not None and not is_plausible_trade_id(trade_id):
        raise NormalizationError(DlqErrorType.INVALID_TRADE_ID, f"trade id {trade_id}")


def _check_times(
    micros: int | None, raw_time: Any, ingestion: int | datetime, time_window: tuple[int, int] | None
) -> int:
    """The trade time in µs, after the plausibility checks and (when given) Silver's [earliest,
    latest] window, in Silver's order."""
    if plausible_time_micros(micros) is None:
        raise NormalizationError(DlqErrorType.INVALID_TIMESTAMP, f"trade time {raw_time!r}")
    ingestion_micros = ingestion if isinstance(ingestion, int) else micros_from_datetime(ingestion)
    if plausible_time_micros(ingestion_micros) is None:
        raise NormalizationError(DlqErrorType.INVALID_TIMESTAMP, f"ingestion time {ingestion_micros}")
    assert micros is not None
    if time_window is not None and not time_window[0] <= micros <= time_window[1]:
        raise NormalizationError(DlqErrorType.TIMESTAMP_OUT_OF_RANGE, f"trade time {micros} µs")
    return micros


def _decimals(price_text: str, quantity_text: str) -> tuple[Decimal, Decimal]:
    price = parse_decimal(price_text, PRICE_TYPE.precision, PRICE_TYPE.scale)
    quantity = parse_decimal(quantity_text, QUANTITY_TYPE.precision, QUANTITY_TYPE.scale)
    if price is None or quantity is None:
        raise NormalizationError(
            DlqErrorType.INVALID_DECIMAL, f"price {price_text!r} quantity {quantity_text!r}"
        )
    if price <= 0:
        raise NormalizationError(DlqErrorType.NON_POSITIVE_PRICE, f"price {price_text}")
    if quantity <= 0:
        raise NormalizationError(DlqErrorType.NON_POSITIVE_QUANTITY, f"quantity {quantity_text}")
    return price, quantity


def _v2(
    exchange: str,
    pair: _Pair,
    price: Decimal,
    quantity: Decimal,
    timestamp_micros: int,
    trade_key: str,
    extra: dict[str, Any],
) -> dict[str, Any]:
    values = {
        "message_id": message_id(exchange, pair.symbol, timestamp_micros, trade_key),
        "exchange": exchange,
        "symbol": pair.symbol,
        "base_currency": currency_name(pair.base),
        "quote_currency": currency_name(pair.quote),
        "price": price,
        "quantity": quantity,
        "trade_value_usd": trade_value_usd(price, quantity, pair.quote),
        "timestamp": datetime_from_micros(timestamp_micros),
        "trade_id": trade_key,
        **extra,
    }
    return {name: values[name] for name in field_names("trade_v2")}  # in schema order


def binance_to_v2(
    raw: dict[str, Any],
    schema_id: int,
    validation_timestamp: datetime,
    time_window: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The V2 trade Silver makes of a BinanceRawTrade, or NormalizationError naming the first check
    that fails, in Silver's order. time_window: Silver's [earliest, latest] trade time in µs (its age
    and future checks); None skips them."""
    _require(raw, ("price", "quantity"))
    pair = _pair("binance", raw["symbol"])
    _check_trade_id(raw["trade_id"])
    price, quantity = _decimals(raw["price"], raw["quantity"])
    micros = _check_times(
        plausible_time_micros(ms_to_micros(raw["trade_time_ms"])),
        raw["trade_time_ms"],
        raw["ingestion_timestamp"],
        time_window,
    )
    extra = {
        "side": binance_side(raw["is_buyer_maker"]),
        "is_market_maker": raw["is_buyer_maker"],
        "ingestion_timestamp": _as_datetime(raw["ingestion_timestamp"]),
        "validation_timestamp": validation_timestamp,
        "schema_id": schema_id,
    }
    return _v2("binance", pair, price, quantity, micros, str(raw["trade_id"]), extra)


def kraken_to_v2(
    raw: dict[str, Any],
    schema_id: int,
    validation_timestamp: datetime,
    time_window: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The V2 trade Silver makes of a KrakenRawTrade, or NormalizationError (see binance_to_v2)."""
    _require(raw, ("price", "quantity", "trade_time_seconds", "side"))
    pair = _pair("kraken", raw["symbol"])
    trade_id = raw.get("trade_id")
    _check_trade_id(trade_id)
    price, quantity = _decimals(raw["price"], raw["quantity"])
    side = kraken_side(raw["side"])
    if side is None:
        raise NormalizationError(DlqErrorType.INVALID_SIDE, f"side {raw['side']!r}")
    micros = _check_times(
        kraken_time_to_micros(raw["trade_time_seconds"]),
        raw["trade_time_seconds"],
        raw["ingestion_timestamp"],
        time_window,
    )
    key = (
        str(trade_id) if trade_id is not None else kraken_hash_id(pair.symbol, micros, price, quantity, side)
    )
    extra = {
        "side": side,
        "is_market_maker": side == "sell",
        "ingestion_timestamp": _as_datetime(raw["ingestion_timestamp"]),
        "validation_timestamp": validation_timestamp,
        "schema_id": schema_id,
    }
    return _v2("kraken", pair, price, quantity, micros, key, extra)


def _as_datetime(value: int | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime_from_micros(value)


# --- the same rules as Spark column expressions --------------------------------------------------


def _literal_map(mapping: dict[str, str]) -> Column:
    return F.create_map(*[F.lit(item) for pair in sorted(mapping.items()) for item in pair])


def matches_col(text: Column, pattern: str) -> Column:
    """Spark twin of matches: the whole text matches (\\z: no trailing newline slips through)."""
    return text.rlike(anchored(pattern))


def anchored(pattern: str) -> str:
    return f"^(?:{pattern})\\z"


def normalize_code_col(code: Column) -> Column:
    return F.coalesce(F.try_element_at(_literal_map(CURRENCY_ALIASES), code), code)


def currency_name_col(code: Column) -> Column:
    return F.coalesce(F.try_element_at(_literal_map(CURRENCY_NAMES), code), code)


def binance_pair_cols(symbol: Column) -> tuple[Column, Column]:
    """(base, quote) codes of a Binance symbol, both null when it breaks the syntax or no known quote
    asset ends it."""
    valid = matches_col(symbol, BINANCE_SYMBOL_SYNTAX)
    quote: Column | None = None
    for asset in QUOTE_ASSETS_LONGEST_FIRST:
        ends = valid & symbol.endswith(asset) & (F.length(symbol) > len(asset))
        quote = F.when(ends, F.lit(asset)) if quote is None else quote.when(ends, F.lit(asset))
    assert quote is not None
    base = F.when(quote.isNotNull(), symbol.substr(F.lit(1), F.length(symbol) - F.length(quote)))
    return normalize_code_col(base), quote


def kraken_pair_cols(symbol: Column) -> tuple[Column, Column]:
    """(base, quote) codes of BASE/QUOTE, each null unless the symbol is exactly that shape."""
    pattern = anchored(KRAKEN_PAIR_PATTERN)
    well_formed = symbol.rlike(pattern)
    base = F.when(well_formed, normalize_code_col(F.regexp_extract(symbol, pattern, 1)))
    quote = F.when(well_formed, normalize_code_col(F.regexp_extract(symbol, pattern, 2)))
    return base, quote


def symbol_error_col(exchange: str, symbol: Column, base: Column, quote: Column) -> Column:
    """Spark twin of symbol_error (base/quote from the exchange's *_pair_cols)."""
    return (
        F.when(symbol == "", F.lit(DlqErrorType.EMPTY_SYMBOL.value))
        .when(~matches_col(symbol, SYMBOL_SYNTAX[exchange]), F.lit(DlqErrorType.INVALID_SYMBOL_SYNTAX.value))
        .when(base.isNull() | quote.isNull(), F.lit(DlqErrorType.UNKNOWN_SYMBOL_FORMAT.value))
    )


def binance_side_col(is_buyer_maker: Column) -> Column:
    return F.when(is_buyer_maker, F.lit("sell")).when(~is_buyer_maker, F.lit("buy"))


def kraken_side_col(raw_side: Column) -> Column:
    return F.try_element_at(_literal_map(KRAKEN_SIDES), raw_side)


def is_plausible_trade_id_col(trade_id: Column) -> Column:
    return trade_id.between(*TRADE_ID_RANGE)


def plausible_time_micros_col(micros: Column) -> Column:
    return F.when((micros >= PLAUSIBLE_TIME_RANGE[0]) & (micros < PLAUSIBLE_TIME_RANGE[1]), micros)


def kraken_time_micros_col(value: Column) -> Column:
    """Epoch-seconds strings by integer arithmetic on their digits; otherwise an RFC3339 string
    (try_cast: null for a day the month does not have, as in Python)."""
    epoch = anchored(EPOCH_SECONDS_PATTERN)
    seconds = F.regexp_extract(value, epoch, 1).cast("long")
    fraction = F.rpad(F.substring(F.regexp_extract(value, epoch, 2), 1, 6), 6, "0").cast("long")
    rfc3339 = F.when(matches_col(value, RFC3339_PATTERN), F.unix_micros(value.try_cast("timestamp")))
    return F.when(value.rlike(epoch), seconds * MICROS_PER_SECOND + fraction).otherwise(rfc3339)


def decimal_col(text: Column, precision: int, scale: int) -> Column:
    """The decimal an ASCII decimal text denotes if it fits decimal(precision, scale) exactly, else
    null."""
    # Significant fraction digits (trailing zeros do not round): more than the scale would round.
    fraction = F.regexp_extract(text, r"\.([0-9]*?)0*\z", 1)
    fits_scale = matches_col(text, DECIMAL_SYNTAX) & (F.length(fraction) <= scale)
    # With the fraction exact, the cast can only fail (null) on too many integer digits.
    return F.when(fits_scale, text.try_cast(f"decimal({precision},{scale})"))


def utc_date_col(micros: Column) -> Column:
    """The UTC date of epoch microseconds, by integer arithmetic (independent of the session zone)."""
    day = ((micros - F.pmod(micros, F.lit(MICROS_PER_DAY))) / MICROS_PER_DAY).cast("int")
    return F.date_from_unix_date(day)


def utc_hour_col(micros: Column) -> Column:
    within_day = F.pmod(micros, F.lit(MICROS_PER_DAY))
    return ((within_day - F.pmod(within_day, F.lit(MICROS_PER_HOUR))) / MICROS_PER_HOUR).cast("int")


def message_id_col(exchange: str | Column, symbol: Column, micros: Column, trade_key: Column) -> Column:
    """Spark twin of message_id (symbol is the V2 BASE/QUOTE; exchange a name or a column)."""
    # concat, not concat_ws: a null part must make the id null (concat_ws would skip it)
    day = F.date_format(utc_date_col(micros), "yyyyMMdd")
    exchange_col = F.lit(exchange) if isinstance(exchange, str) else exchange
    return F.concat(exchange_col, F.lit("-"), symbol, F.lit("-"), day, F.lit("-"), trade_key)


def kraken_hash_id_col(
    symbol: Column, micros: Column, price: Column, quantity: Column, side: Column
) -> Column:
    """Spark twin of kraken_hash_id (price/quantity already decimals of the V2 types)."""
    text = F.concat_ws(
        "|", symbol, micros.cast("string"), price.cast("string"), quantity.cast("string"), side
    )
    return F.substring(F.sha2(text, 256), 1, KRAKEN_HASH_ID_LENGTH)


def is_usd_pegged_col(quote: Column) -> Column:
    return quote.isin(*sorted(USD_PEGGED_QUOTES))
