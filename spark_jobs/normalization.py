"""Normalization rules from raw exchange trades to the V2 unified trade, twice from one set of lists:
as pure Python functions (the synthetic feed, fixtures and test oracles use them) and as Spark column
expressions (Silver uses them). Both are built from the constants below; tests check they agree.

Exactness: prices and quantities are decimals end to end (never floats), and times are integer
epoch microseconds computed with integer/string arithmetic only.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
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

#: Kraken sends b/s (websocket v1) or buy/sell (v2); compared lower-cased and trimmed.
KRAKEN_SIDES: Final[dict[str, str]] = {"b": "buy", "s": "sell", "buy": "buy", "sell": "sell"}

#: Epoch seconds with an optional fraction, exactly as Kraken sends it.
EPOCH_SECONDS_PATTERN: Final = r"^([0-9]{1,12})(?:\.([0-9]*))?$"

MICROS_PER_SECOND: Final = 1_000_000
MICROS_PER_HOUR: Final = 3_600 * MICROS_PER_SECOND
MICROS_PER_DAY: Final = 24 * MICROS_PER_HOUR
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

PRICE_TYPE: Final = decimal_type("trade_v2", "price")
QUANTITY_TYPE: Final = decimal_type("trade_v2", "quantity")
#: Wide enough for any string that fits PRICE_TYPE/QUANTITY_TYPE: used to detect silent rounding.
_WIDE_DECIMAL: Final = "decimal(38,18)"
#: Length of the hex hash used as a Kraken trade id when Kraken gives none (64 bits).
KRAKEN_HASH_ID_LENGTH: Final = 16


class NormalizationError(ValueError):
    """A raw trade that cannot become a V2 trade; error_type says which DLQ error it is."""

    def __init__(self, error_type: DlqErrorType, reason: str) -> None:
        super().__init__(f"{error_type.value}: {reason}")
        self.error_type = error_type
        self.reason = reason


# --- pure Python rules ---------------------------------------------------------------------------


def normalize_code(code: str) -> str:
    upper = code.strip().upper()
    return CURRENCY_ALIASES.get(upper, upper)


def currency_name(code: str) -> str:
    return CURRENCY_NAMES.get(code, code)


def split_binance_symbol(symbol: str) -> tuple[str, str] | None:
    """BTCUSDT -> (BTC, USDT): the longest known quote asset that ends the symbol after a non-empty
    base; None when there is none."""
    upper = symbol.strip().upper()
    for quote in QUOTE_ASSETS_LONGEST_FIRST:
        if upper.endswith(quote) and len(upper) > len(quote):
            return normalize_code(upper[: -len(quote)]), quote
    return None


def split_kraken_symbol(symbol: str) -> tuple[str, str] | None:
    """XBT/USD -> (BTC, USD); None unless exactly BASE/QUOTE."""
    parts = symbol.strip().split("/")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        return None
    return normalize_code(parts[0]), normalize_code(parts[1])


def binance_side(is_buyer_maker: bool) -> str:
    """The taker's side: a buyer-maker trade was a taker sell."""
    return "sell" if is_buyer_maker else "buy"


def kraken_side(raw_side: str) -> str | None:
    return KRAKEN_SIDES.get(raw_side.strip().lower())


def ms_to_micros(epoch_ms: int) -> int:
    return epoch_ms * 1000


def kraken_time_to_micros(value: str) -> int | None:
    """'1700000000.1234567' -> 1700000000123456 (fraction truncated to µs, no float); RFC3339 too."""
    text = value.strip()
    epoch = re.fullmatch(EPOCH_SECONDS_PATTERN, text)
    if epoch:
        seconds, fraction = epoch.group(1), epoch.group(2) or ""
        return int(seconds) * MICROS_PER_SECOND + int(fraction[:6].ljust(6, "0"))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None  # RFC3339 always carries an offset
    return micros_from_datetime(parsed)


def micros_from_datetime(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * MICROS_PER_SECOND + delta.microseconds


def datetime_from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def utc_yyyymmdd(micros: int) -> str:
    return datetime_from_micros(micros).strftime("%Y%m%d")


def parse_decimal(text: str, precision: int, scale: int) -> Decimal | None:
    """The exact decimal a string denotes if it fits decimal(precision, scale) without rounding."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    try:
        quantized = value.quantize(Decimal(1).scaleb(-scale))
    except InvalidOperation:  # more digits than the context holds: far too large for any V2 type
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
    return price * quantity


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


def _pair(split: tuple[str, str] | None, raw_symbol: str) -> _Pair:
    if not raw_symbol.strip():
        raise NormalizationError(DlqErrorType.EMPTY_SYMBOL, "symbol is empty")
    if split is None:
        raise NormalizationError(DlqErrorType.UNKNOWN_SYMBOL_FORMAT, f"cannot split {raw_symbol!r}")
    return _Pair(*split)


def _decimals(price_text: str | None, quantity_text: str | None) -> tuple[Decimal, Decimal]:
    if price_text is None or quantity_text is None:
        raise NormalizationError(DlqErrorType.MISSING_FIELD, "price or quantity is missing")
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


def binance_to_v2(raw: dict[str, Any], schema_id: int, validation_timestamp: datetime) -> dict[str, Any]:
    """The V2 trade Silver makes of a BinanceRawTrade (timestamp checks excepted: they need a clock)."""
    pair = _pair(split_binance_symbol(raw["symbol"]), raw["symbol"])
    price, quantity = _decimals(raw.get("price"), raw.get("quantity"))
    extra = {
        "side": binance_side(raw["is_buyer_maker"]),
        "is_market_maker": raw["is_buyer_maker"],
        "ingestion_timestamp": _as_datetime(raw["ingestion_timestamp"]),
        "validation_timestamp": validation_timestamp,
        "schema_id": schema_id,
    }
    micros = ms_to_micros(raw["trade_time_ms"])
    return _v2("binance", pair, price, quantity, micros, str(raw["trade_id"]), extra)


def kraken_to_v2(raw: dict[str, Any], schema_id: int, validation_timestamp: datetime) -> dict[str, Any]:
    """The V2 trade Silver makes of a KrakenRawTrade (timestamp checks excepted)."""
    pair = _pair(split_kraken_symbol(raw["symbol"]), raw["symbol"])
    if raw.get("side") is None or raw.get("trade_time_seconds") is None:
        raise NormalizationError(DlqErrorType.MISSING_FIELD, "side or trade_time_seconds is missing")
    price, quantity = _decimals(raw.get("price"), raw.get("quantity"))
    side = kraken_side(raw["side"])
    if side is None:
        raise NormalizationError(DlqErrorType.INVALID_SIDE, f"side {raw['side']!r}")
    micros = kraken_time_to_micros(raw["trade_time_seconds"])
    if micros is None:
        raise NormalizationError(DlqErrorType.INVALID_TIMESTAMP, f"time {raw['trade_time_seconds']!r}")
    trade_id = raw.get("trade_id")
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


def normalize_code_col(code: Column) -> Column:
    upper = F.upper(F.trim(code))
    return F.coalesce(F.try_element_at(_literal_map(CURRENCY_ALIASES), upper), upper)


def currency_name_col(code: Column) -> Column:
    return F.coalesce(F.try_element_at(_literal_map(CURRENCY_NAMES), code), code)


def binance_pair_cols(symbol: Column) -> tuple[Column, Column]:
    """(base, quote) codes of a Binance symbol, both null when no known quote asset ends it."""
    upper = F.upper(F.trim(symbol))
    quote: Column | None = None
    for asset in QUOTE_ASSETS_LONGEST_FIRST:
        ends = upper.endswith(asset) & (F.length(upper) > len(asset))
        quote = F.when(ends, F.lit(asset)) if quote is None else quote.when(ends, F.lit(asset))
    assert quote is not None
    base = F.when(quote.isNotNull(), upper.substr(F.lit(1), F.length(upper) - F.length(quote)))
    return normalize_code_col(base), quote


def kraken_pair_cols(symbol: Column) -> tuple[Column, Column]:
    """(base, quote) codes of BASE/QUOTE, each null unless the symbol has exactly two non-empty parts."""
    parts = F.split(F.trim(symbol), "/")
    well_formed = (F.size(parts) == 2) & (F.length(F.trim(parts[0])) > 0) & (F.length(F.trim(parts[1])) > 0)
    base = F.when(well_formed, normalize_code_col(parts[0]))
    quote = F.when(well_formed, normalize_code_col(parts[1]))
    return base, quote


def binance_side_col(is_buyer_maker: Column) -> Column:
    return F.when(is_buyer_maker, F.lit("sell")).when(~is_buyer_maker, F.lit("buy"))


def kraken_side_col(raw_side: Column) -> Column:
    return F.try_element_at(_literal_map(KRAKEN_SIDES), F.lower(F.trim(raw_side)))


def kraken_time_micros_col(value: Column) -> Column:
    """Epoch-seconds strings by integer arithmetic on their digits; otherwise an RFC3339 string."""
    text = F.trim(value)
    is_epoch = text.rlike(EPOCH_SECONDS_PATTERN)
    seconds = F.regexp_extract(text, EPOCH_SECONDS_PATTERN, 1).cast("long")
    fraction = F.rpad(F.substring(F.regexp_extract(text, EPOCH_SECONDS_PATTERN, 2), 1, 6), 6, "0").cast(
        "long"
    )
    has_offset = text.rlike(r"(Z|z|[+-][0-9]{2}:?[0-9]{2})$")
    rfc3339 = F.when(has_offset, F.unix_micros(_try_cast(text, "timestamp")))
    return F.when(is_epoch, seconds * MICROS_PER_SECOND + fraction).otherwise(rfc3339)


def _try_cast(column: Column, type_name: str) -> Column:
    return column.try_cast(type_name)


#: A decimal number as text: integer digits, fraction digits, exponent (groups 1-3).
DECIMAL_TEXT_PATTERN: Final = r"^[+-]?([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$"


def decimal_col(text: Column, precision: int, scale: int) -> Column:
    """The decimal a string denotes if it fits decimal(precision, scale) exactly, else null.

    Two guards against silent rounding: the narrow cast must equal a wide one (too many digits for
    the scale round differently), and the text's own scale (fraction digits without trailing zeros,
    less the exponent) must not exceed `scale` (digits beyond the wide cast's 18 round away in both
    casts: "1.0000000000000000001" would otherwise become 1)."""
    trimmed = F.trim(text)
    narrow = _try_cast(trimmed, f"decimal({precision},{scale})")
    wide = _try_cast(trimmed, _WIDE_DECIMAL)
    integer = F.regexp_extract(trimmed, DECIMAL_TEXT_PATTERN, 1)
    fraction = F.regexp_extract(trimmed, DECIMAL_TEXT_PATTERN, 2)
    exponent = F.when(F.regexp_extract(trimmed, DECIMAL_TEXT_PATTERN, 3) == "", F.lit(0)).otherwise(
        _try_cast(F.regexp_extract(trimmed, DECIMAL_TEXT_PATTERN, 3), "int")
    )
    digits = F.concat(integer, fraction)
    significant = F.regexp_replace(digits, "0+$", "")
    text_scale = F.length(fraction) - exponent - (F.length(digits) - F.length(significant))
    # All-zero digits denote zero, which fits any scale.
    fits_scale = trimmed.rlike(DECIMAL_TEXT_PATTERN) & (
        (F.regexp_replace(significant, "0", "") == "") | (text_scale <= scale)
    )
    return F.when((narrow == wide) & fits_scale, narrow)


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
