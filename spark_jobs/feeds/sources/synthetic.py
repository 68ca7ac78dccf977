"""Synthetic trades at a steady rate, written in each exchange's wire format so they take the same
parse -> produce path as live data. Built on the seeded CryptoDataFactory: the same seed gives the
same prices, sizes and ids; times are the wall clock (so event-time windows behave as live)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

from spark_jobs.feeds import binance, kraken
from spark_jobs.feeds.sources import Received, now_micros
from spark_jobs.synthetic_trades import CryptoDataFactory

BASES = ("BTC", "ETH", "SOL")


def binance_message(factory: CryptoDataFactory, micros: int) -> str:
    millis = micros // 1000
    base = factory.rng.choice(BASES)
    trade = factory.binance_raw_trade(base=base, event_time_ms=millis, trade_time_ms=millis)
    return binance.wire_message(trade)


def kraken_message(factory: CryptoDataFactory, micros: int) -> str:
    moment = datetime.fromtimestamp(micros / 1_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    base = factory.rng.choice(BASES)
    trade = factory.kraken_raw_trade(base=base, trade_time_seconds=moment)
    return kraken.wire_message([trade])


MESSAGE_BUILDERS: dict[str, Callable[[CryptoDataFactory, int], str]] = {
    "binance": binance_message,
    "kraken": kraken_message,
}


async def synthetic_messages(
    exchange: str, rate: float, seed: int = 42, limit: int | None = None
) -> AsyncIterator[Received]:
    """One single-trade message every 1/rate seconds (rate 0: as fast as possible), `limit` in all.

    Paced against a schedule, not by sleeping a fixed gap, so the rate holds even when producing
    takes part of each gap."""
    build = MESSAGE_BUILDERS[exchange]
    factory = CryptoDataFactory(seed)
    started = time.monotonic()
    sent = 0
    while limit is None or sent < limit:
        if rate > 0:
            delay = started + sent / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        elif sent % 500 == 0:
            await asyncio.sleep(0)
        at = now_micros()
        yield Received(build(factory, at), at)
        sent += 1
