"""Per-exchange feed counters. Every message and every trade is accounted for:
received = parse_errors + control_messages + trade messages; trades + rejected_trades + parse_errors
= other_symbols + produced + rejected_produced + delivery_errors (+ undelivered when the final flush
timed out)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from spark_jobs.feeds.sources.live import ConnectionStats


@dataclass
class ExchangeStats:
    received: int = 0  # websocket/replay/synthetic messages in
    control_messages: int = 0  # heartbeats, status, subscribe acks: no trades, not errors
    parse_errors: int = 0  # messages that cannot be parsed at all: sent whole to the rejected topic
    trades: int = 0  # trades parsed out of messages (a Kraken message may hold several)
    other_symbols: int = 0  # trades of symbols the feed was not asked for: skipped
    rejected_trades: int = 0  # bad trades inside otherwise good messages: sent to the rejected topic
    produced: int = 0  # trades acknowledged by the broker
    rejected_produced: int = 0  # rejected-frame envelopes acknowledged by the broker
    delivery_errors: int = 0  # the broker (or the client) reported a failure
    undelivered: int = 0  # still queued when the final flush gave up


@dataclass
class FeedStats:
    exchanges: dict[str, ExchangeStats] = field(default_factory=dict)
    connections: dict[str, ConnectionStats] = field(default_factory=dict)  # live source only
    elapsed_seconds: float = 0.0

    def for_exchange(self, exchange: str) -> ExchangeStats:
        return self.exchanges.setdefault(exchange, ExchangeStats())

    @property
    def produced(self) -> int:
        return sum(stats.produced for stats in self.exchanges.values())

    @property
    def errors(self) -> int:
        return sum(s.delivery_errors + s.undelivered for s in self.exchanges.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "exchanges": {name: asdict(stats) for name, stats in self.exchanges.items()},
            "connections": {
                name: {**asdict(conn), "backoff_delays": [round(d, 3) for d in conn.backoff_delays]}
                for name, conn in self.connections.items()
            },
        }
