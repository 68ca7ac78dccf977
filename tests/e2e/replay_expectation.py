"""What one replay of the recorded sample must leave in Gold and in the DLQ, computed from the sample
files with the project's own code: each exchange's feed parser (spark_jobs.feeds), then the pure-Python
twin of Silver's checks and normalization (spark_jobs.normalization, which tests keep equal to Silver's
Spark expressions). Nothing here is a recorded count: change the sample and the expectation follows.

Per replay of the sample:
  - Gold: one row per distinct message_id of the trades that pass Silver (replays and resends repeat
    ids; Gold keeps each once), with Silver's exact price, quantity and USD value;
  - DLQ: one `unparseable_frame` row per message (or per bad trade of a multi-trade message) the feed
    rejects (its envelope carries the message text and the feed's reason), and one row per trade that
    reaches Silver but fails a check, with the check's error type.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from spark_jobs.contracts import EXCHANGES
from spark_jobs.feeds.handlers import handler_for
from spark_jobs.feeds.parsing import FeedParseError
from spark_jobs.feeds.sources import now_micros
from spark_jobs.feeds.sources.replay import read_recording, sample_path
from spark_jobs.job_config import REPLAY_MAX_TRADE_AGE
from spark_jobs.normalization import (
    MICROS_PER_SECOND,
    NormalizationError,
    binance_to_v2,
    kraken_to_v2,
)
from spark_jobs.rejected_frames import RAW_FIELD, REASON_FIELD, decode_rejected_frame
from spark_jobs.transforms.dlq import DlqErrorType
from spark_jobs.transforms.silver import FUTURE_TOLERANCE

TO_V2 = {"binance": binance_to_v2, "kraken": kraken_to_v2}
#: The Gold columns compared value for value.
GOLD_VALUES = ("exchange", "symbol", "trade_id", "price", "quantity", "trade_value_usd", "side")


@dataclass(frozen=True)
class BadRecord:
    """One DLQ row's identity across replays (Kafka offsets and receive times differ per replay):
    for a rejected frame the feed's reason and the message text; for a trade Silver rejects, its error
    type alone (the row keeps only the Avro bytes, and the recorded sample has no such trade today)."""

    exchange: str
    error_type: str
    detail: tuple[str, ...]


@dataclass(frozen=True)
class ReplayExpectation:
    #: exchange -> the symbols the sample trades (the pipeline's feeds subscribe to all of them)
    symbols: dict[str, tuple[str, ...]]
    #: message_id -> GOLD_VALUES of the trade
    gold: dict[str, tuple[Any, ...]]
    #: the DLQ rows one replay produces
    bad: Counter[BadRecord]
    #: trades one replay produces to the raw topics (for the report)
    produced: dict[str, int]


def silver_time_window(at_micros: int) -> tuple[int, int]:
    """Silver's [earliest, latest] trade time for a record Kafka received at `at_micros`, with the
    age limit the operator gives a replayed exchange."""
    days = int(REPLAY_MAX_TRADE_AGE.split()[0])
    earliest = at_micros - days * 86_400 * MICROS_PER_SECOND
    latest = at_micros + int(FUTURE_TOLERANCE.total_seconds() * MICROS_PER_SECOND)
    return earliest, latest


def expected_from_sample() -> ReplayExpectation:
    now = now_micros()
    validated_at = datetime.now(UTC)
    window = silver_time_window(now)
    symbols: dict[str, set[str]] = {}
    gold: dict[str, tuple[Any, ...]] = {}
    bad: Counter[BadRecord] = Counter()
    produced: Counter[str] = Counter()
    for exchange in EXCHANGES:
        handler = handler_for(exchange)
        symbols[exchange] = set()
        for _offset, text in read_recording(sample_path(exchange)):
            try:
                parsed = handler.parse_message(text, now)
            except FeedParseError as error:
                bad[BadRecord(exchange, DlqErrorType.UNPARSEABLE_FRAME.value, (str(error), text))] += 1
                continue
            for reason in parsed.rejected:
                bad[BadRecord(exchange, DlqErrorType.UNPARSEABLE_FRAME.value, (reason, text))] += 1
            for trade in parsed.trades:
                symbols[exchange].add(trade["symbol"])
                produced[exchange] += 1
                try:
                    row = TO_V2[exchange](trade, 0, validated_at, window)
                except NormalizationError as error:
                    bad[BadRecord(exchange, error.error_type.value, ())] += 1
                    continue
                gold[row["message_id"]] = tuple(row[name] for name in GOLD_VALUES)
    return ReplayExpectation(
        symbols={exchange: tuple(sorted(found)) for exchange, found in symbols.items()},
        gold=gold,
        bad=bad,
        produced=dict(produced),
    )


def gold_values(row: dict[str, Any]) -> tuple[Any, ...]:
    """GOLD_VALUES of a Gold row read back from Delta (decimals stay Decimal)."""
    return tuple(row[name] for name in GOLD_VALUES)


def dlq_identity(row: dict[str, Any]) -> BadRecord:
    """The BadRecord a DLQ row stands for (see BadRecord)."""
    if row["error_type"] == DlqErrorType.UNPARSEABLE_FRAME.value:
        envelope = decode_rejected_frame(bytes(row["raw_value"]))
        detail: tuple[str, ...] = (str(envelope[REASON_FIELD]), str(envelope[RAW_FIELD]))
    else:
        detail = ()
    return BadRecord(row["exchange"], row["error_type"], detail)
