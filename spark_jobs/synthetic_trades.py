"""Seeded, realistic synthetic trades and the Confluent wire format.

The synthetic feed (no internet) and the test fixtures both use CryptoDataFactory, so what the tests
check is what the pipeline sees offline. Prices random-walk inside realistic ranges, quantities are
inversely related to price (a trade's notional is drawn, not its quantity), timestamps move forward.
"""

from __future__ import annotations

import io
import json
import random
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, Final

import fastavro
from fastavro.validation import validate

from spark_jobs.avro_schemas import load_schema
from spark_jobs.normalization import (
    binance_to_v2,
    kraken_to_v2,
    micros_from_datetime,
)
from spark_jobs.transforms.dlq import DlqErrorType

MAGIC_BYTE: Final = 0
HEADER_LENGTH: Final = 5  # magic byte + 4-byte big-endian schema id

#: A fixed default start, so seeded data is identical run to run (pass start_time for live-like data).
DEFAULT_START: Final = datetime(2024, 6, 3, 12, 0, 0, tzinfo=UTC)

#: base code -> (low, high) USD price range the random walk stays inside.
PRICE_RANGES: Final[dict[str, tuple[float, float]]] = {
    "BTC": (30_000.0, 70_000.0),
    "ETH": (1_500.0, 4_500.0),
    "BNB": (200.0, 700.0),
    "SOL": (20.0, 250.0),
    "XRP": (0.40, 1.00),
    "ADA": (0.25, 1.20),
    "DOT": (4.0, 12.0),
    "DOGE": (0.05, 0.25),
}
#: Decimal places of prices by base (exchange tick sizes, roughly).
PRICE_DECIMALS: Final[dict[str, int]] = {"BTC": 2, "ETH": 2, "BNB": 1, "SOL": 2}
DEFAULT_PRICE_DECIMALS: Final = 4
QUANTITY_DECIMALS: Final = 8
#: Trade notional in USD is drawn log-uniformly from this range; quantity = notional / price.
NOTIONAL_RANGE_USD: Final = (5.0, 50_000.0)
#: Random-walk step: relative standard deviation per trade.
PRICE_STEP: Final = 0.0008

BINANCE_SYMBOLS: Final[dict[str, str]] = {
    "BTC": "BTCUSDT",
    "ETH": "ETHUSDT",
    "SOL": "SOLUSDT",
    "BNB": "BNBUSDT",
}
KRAKEN_SYMBOLS: Final[dict[str, str]] = {
    "BTC": "BTC/USD",
    "ETH": "ETH/USD",
    "SOL": "SOL/USD",
    "DOGE": "XDG/USD",
}


# --- Confluent wire format -----------------------------------------------------------------------

_parsed_cache: dict[str, Any] = {}


def _parsed(schema: Mapping[str, Any]) -> Any:
    key = json.dumps(schema, sort_keys=True)
    if key not in _parsed_cache:
        _parsed_cache[key] = fastavro.parse_schema(json.loads(key))
    return _parsed_cache[key]


def avro_body(schema: Mapping[str, Any], record: Mapping[str, Any]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, _parsed(schema), dict(record))
    return out.getvalue()


def confluent_header(schema_id: int) -> bytes:
    """Magic byte 0 and the schema id as 4 bytes big-endian: what precedes every Avro body."""
    return struct.pack(">bI", MAGIC_BYTE, schema_id)


def encode_confluent(schema_id: int, schema: Mapping[str, Any], record: Mapping[str, Any]) -> bytes:
    """The Confluent header, then the Avro binary body."""
    return confluent_header(schema_id) + avro_body(schema, record)


def confluent_schema_id(data: bytes) -> int:
    if len(data) < HEADER_LENGTH or data[0] != MAGIC_BYTE:
        raise ValueError("not Confluent wire format: bad magic byte or shorter than the header")
    schema_id: int = struct.unpack(">I", data[1:HEADER_LENGTH])[0]
    return schema_id


def decode_confluent(
    data: bytes, writer_schema: Mapping[str, Any], reader_schema: Mapping[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    """(schema id, record) of a Confluent-framed message (look the id up with confluent_schema_id)."""
    schema_id = confluent_schema_id(data)
    reader = _parsed(reader_schema) if reader_schema is not None else None
    record = fastavro.schemaless_reader(io.BytesIO(data[HEADER_LENGTH:]), _parsed(writer_schema), reader)
    return schema_id, dict(record)  # type: ignore[arg-type]


def validate_record(schema_name: str, record: Mapping[str, Any]) -> bool:
    """True when the record validates against the named .avsc (raises with the reason otherwise)."""
    return bool(validate(dict(record), _parsed(load_schema(schema_name)), raise_errors=True))


# --- the factory ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvalidTradeRecord:
    """A Bronze value Silver must send to the DLQ with expected_error."""

    case: str
    exchange: str
    value: bytes | None
    expected_error: DlqErrorType


class CryptoDataFactory:
    """Seeded trade generator: the same seed yields the same trades."""

    def __init__(self, seed: int = 42, start_time: datetime | None = None) -> None:
        self.rng = random.Random(seed)
        self.clock = start_time or DEFAULT_START
        self._prices: dict[str, float] = {}
        # Both exchanges number trades per symbol (Binance per symbol, Kraken per book), so every
        # (exchange, symbol) counts up from one shared base: different symbols' ids overlap, as real
        # ones do, and the same id on two symbols is two trades.
        self._trade_id_base = 3_000_000_000 + self.rng.randrange(1_000_000)
        self._last_trade_ids: dict[tuple[str, str], int] = {}

    # - market model -
    def _walk_price(self, base: str) -> Decimal:
        low, high = PRICE_RANGES[base]
        current = self._prices.get(base) or self.rng.uniform(
            low + (high - low) * 0.2, high - (high - low) * 0.2
        )
        stepped = current * (1 + self.rng.gauss(0, PRICE_STEP))
        self._prices[base] = min(max(stepped, low), high)
        places = PRICE_DECIMALS.get(base, DEFAULT_PRICE_DECIMALS)
        return Decimal(repr(self._prices[base])).quantize(Decimal(1).scaleb(-places))

    def _quantity(self, price: Decimal) -> Decimal:
        low, high = NOTIONAL_RANGE_USD
        notional = Decimal(repr(low * (high / low) ** self.rng.random()))
        quantity = (notional / price).quantize(Decimal(1).scaleb(-QUANTITY_DECIMALS), rounding=ROUND_DOWN)
        return max(quantity, Decimal(1).scaleb(-QUANTITY_DECIMALS))

    def _tick(self, mean_gap_seconds: float) -> datetime:
        gap = self.rng.expovariate(1 / mean_gap_seconds) if mean_gap_seconds > 0 else 0.0
        self.clock += timedelta(microseconds=max(1, int(gap * 1_000_000)))
        return self.clock

    def _trade_id(self, exchange: str, symbol: str) -> int:
        """The next id of this exchange's symbol: consecutive per symbol, overlapping across symbols."""
        key = (exchange, symbol)
        self._last_trade_ids[key] = self._last_trade_ids.get(key, self._trade_id_base) + 1
        return self._last_trade_ids[key]

    # - raw records -
    def binance_raw_trade(
        self, *, base: str = "BTC", mean_gap_seconds: float = 2.0, **overrides: Any
    ) -> dict:
        trade_time = self._tick(mean_gap_seconds)
        trade_ms = micros_from_datetime(trade_time) // 1000
        price = self._walk_price(base)
        symbol = overrides.get("symbol", BINANCE_SYMBOLS.get(base, f"{base}USDT"))
        record = {
            "event_type": "trade",
            "event_time_ms": trade_ms + self.rng.randint(0, 5),
            "symbol": symbol,
            "trade_id": self._trade_id("binance", str(symbol)),
            "price": f"{price:.8f}",
            "quantity": f"{self._quantity(price):.8f}",
            "trade_time_ms": trade_ms,
            "is_buyer_maker": self.rng.random() < 0.5,
            "ingestion_timestamp": trade_ms * 1000 + self.rng.randint(20_000, 400_000),
        }
        record.update(overrides)
        return record

    def kraken_raw_trade(
        self,
        *,
        base: str = "BTC",
        mean_gap_seconds: float = 2.0,
        with_trade_id: bool = True,
        **overrides: Any,
    ) -> dict:
        trade_time = self._tick(mean_gap_seconds)
        micros = micros_from_datetime(trade_time)
        price = self._walk_price(base)
        buy = self.rng.random() < 0.5
        symbol = overrides.get("symbol", KRAKEN_SYMBOLS.get(base, f"{base}/USD"))
        record = {
            "symbol": symbol,
            "price": str(price),
            "quantity": str(self._quantity(price)),
            "trade_time_seconds": f"{micros // 1_000_000}.{micros % 1_000_000:06d}",
            "side": "buy" if buy else "sell",
            "order_type": self.rng.choice(["market", "limit"]),
            "misc": "",
            "ingestion_timestamp": micros + self.rng.randint(20_000, 400_000),
            "trade_id": self._trade_id("kraken", str(symbol)) if with_trade_id else None,
        }
        record.update(overrides)
        return record

    def v2_unified_trade(
        self, *, exchange: str = "binance", base: str = "BTC", schema_id: int = 1, **overrides: Any
    ) -> dict:
        """A V2 trade exactly as Silver normalizes a freshly generated raw trade of `exchange` and
        `base` (its trade id is the next of that symbol's).

        A `timestamp` override sets the raw trade's time, so message_id and the date agree with it;
        other overrides replace V2 fields as given."""
        moment: datetime | None = overrides.pop("timestamp", None)
        micros = micros_from_datetime(moment) if moment is not None else None
        if exchange == "binance":
            raw_times: dict[str, Any] = {} if micros is None else {"trade_time_ms": micros // 1000}
            raw = self.binance_raw_trade(base=base, **raw_times)
            trade = binance_to_v2(raw, schema_id, _validation_time(raw["ingestion_timestamp"]))
        elif exchange == "kraken":
            raw_times = (
                {} if micros is None else {"trade_time_seconds": f"{micros // 10**6}.{micros % 10**6:06d}"}
            )
            raw = self.kraken_raw_trade(base=base, **raw_times)
            trade = kraken_to_v2(raw, schema_id, _validation_time(raw["ingestion_timestamp"]))
        else:
            raise ValueError(f"unknown exchange {exchange!r}")
        trade.update(overrides)
        return trade

    # - sequences -
    def binance_trade_sequence(
        self, n: int = 50, *, span: timedelta = timedelta(hours=1), **kw: Any
    ) -> list[dict]:
        """n time-ordered trades spread over `span`, prices random-walking."""
        gap = span.total_seconds() / max(n, 1)
        return [self.binance_raw_trade(mean_gap_seconds=gap, **kw) for _ in range(n)]

    def kraken_trade_sequence(
        self, n: int = 50, *, span: timedelta = timedelta(hours=1), **kw: Any
    ) -> list[dict]:
        gap = span.total_seconds() / max(n, 1)
        return [self.kraken_raw_trade(mean_gap_seconds=gap, **kw) for _ in range(n)]

    def v2_mixed_trades(self, per_exchange: int = 25) -> list[dict]:
        """per_exchange V2 trades from each exchange, interleaved in time order."""
        trades = [
            self.v2_unified_trade(exchange=ex) for _ in range(per_exchange) for ex in ("binance", "kraken")
        ]
        return sorted(trades, key=lambda t: t["timestamp"])

    # - invalid input for Silver -
    def invalid_trade_records(
        self, binance_schema_id: int = 1, unknown_schema_id: int = 999
    ) -> list[InvalidTradeRecord]:
        """One Bronze value per way a Binance record can fail (kraken-specific cases are in the tests)."""
        schema = load_schema("binance_raw_trade")

        def framed(case: str, error: DlqErrorType, **overrides: Any) -> InvalidTradeRecord:
            value = encode_confluent(binance_schema_id, schema, self.binance_raw_trade(**overrides))
            return InvalidTradeRecord(case, "binance", value, error)

        good = encode_confluent(binance_schema_id, schema, self.binance_raw_trade())
        return [
            framed("missing_price", DlqErrorType.MISSING_FIELD, price=None),
            framed("missing_quantity", DlqErrorType.MISSING_FIELD, quantity=None),
            framed("negative_price", DlqErrorType.NON_POSITIVE_PRICE, price="-43000.10"),
            framed("zero_quantity", DlqErrorType.NON_POSITIVE_QUANTITY, quantity="0.00000000"),
            framed("empty_symbol", DlqErrorType.EMPTY_SYMBOL, symbol=""),
            InvalidTradeRecord("bad_magic_byte", "binance", b"\x01" + good[1:], DlqErrorType.BAD_MAGIC_BYTE),
            InvalidTradeRecord(
                "unknown_schema_id",
                "binance",
                confluent_header(unknown_schema_id) + good[HEADER_LENGTH:],
                DlqErrorType.UNKNOWN_SCHEMA_ID,
            ),
            InvalidTradeRecord(
                "truncated_avro", "binance", good[: HEADER_LENGTH + 12], DlqErrorType.AVRO_DECODE_ERROR
            ),
        ]


def _validation_time(ingestion_micros: int) -> datetime:
    """A plausible validation time for generated V2 trades: half a second after ingestion."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ingestion_micros + 500_000)
