"""Run the feed: for each exchange, messages from a source -> parse -> produce, until the source
ends, the duration is up, or SIGINT/SIGTERM arrives; then flush and return the counters.

    stats = run_feed(["binance", "kraken"], "replay", rate=0, duration=None,
                     bootstrap_servers="127.0.0.1:9092", registry_url=registry.url)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spark_jobs.contracts import EXCHANGES, raw_topic
from spark_jobs.feeds.handlers import ExchangeHandler, handler_for
from spark_jobs.feeds.parsing import FeedParseError
from spark_jobs.feeds.producer import TradeProducer
from spark_jobs.feeds.sources import SOURCES, Received
from spark_jobs.feeds.sources.live import ConnectionStats, ReconnectPolicy, websocket_messages
from spark_jobs.feeds.sources.replay import SAMPLES_DIR, RecordingWriter, replay_messages
from spark_jobs.feeds.sources.synthetic import synthetic_messages
from spark_jobs.feeds.stats import FeedStats
from spark_jobs.local_infra.schema_registry import register_trade_schemas

log = logging.getLogger(__name__)

RAW_TEXT_LOG_LIMIT = 2000


@dataclass
class FeedConfig:
    exchanges: Sequence[str]
    source: str
    bootstrap_servers: str
    registry_url: str
    rate: float = 10.0  # synthetic: messages (one trade each) per second per exchange; 0 = flat out
    duration: float | None = None  # seconds; None = until the source ends or a signal
    limit: int | None = None  # stop an exchange after this many messages (any source)
    speed: float = 1.0  # replay: 1 = recorded pace, 10 = ten times faster, 0 = flat out
    loops: int = 1  # replay: times through the recording (0 = forever)
    seed: int = 42
    topics: Mapping[str, str] | None = None  # exchange -> topic (default: the contract's raw topics)
    #: exchange -> symbols: live subscribes to them; every source produces only their trades.
    symbols: Mapping[str, Sequence[str]] | None = None
    live_urls: Mapping[str, str] | None = None  # live: exchange -> base websocket URL
    reconnect: ReconnectPolicy = field(default_factory=ReconnectPolicy)
    samples_dir: Path = SAMPLES_DIR
    #: replay: exchange -> a recording to play instead of samples_dir/<exchange>.jsonl
    replay_files: Mapping[str, Path] | None = None
    #: any source: write every received message to <record_dir>/<exchange>.jsonl (the replay format)
    record_dir: Path | None = None
    register_schemas: bool = True
    producer_settings: Mapping[str, Any] = field(default_factory=dict)
    #: Counters to fill (e.g. the ones the feed's /metrics and /healthz endpoint reads); default: new.
    stats: FeedStats | None = None

    def topic(self, exchange: str) -> str:
        return (self.topics or {}).get(exchange) or raw_topic(exchange)


def run_feed(
    exchanges: Sequence[str],
    source: str,
    rate: float,
    duration: float | None,
    bootstrap_servers: str,
    registry_url: str,
    **options: Any,
) -> FeedStats:
    """Run a feed to completion in this thread (its own event loop); see FeedConfig for options."""
    config = FeedConfig(list(exchanges), source, bootstrap_servers, registry_url, rate, duration, **options)
    return asyncio.run(feed(config))


async def feed(config: FeedConfig) -> FeedStats:
    _check(config)
    topics = {exchange: config.topic(exchange) for exchange in config.exchanges}
    stats = config.stats if config.stats is not None else FeedStats()
    producer = TradeProducer(
        config.bootstrap_servers, config.registry_url, topics, stats, **config.producer_settings
    )
    try:
        _require_topics(producer, config.bootstrap_servers)
    except RuntimeError:
        producer.close()
        raise
    if config.register_schemas:
        # the registry keeps schemas in memory: (re-)register on every start; ids are stable
        register_trade_schemas(config.registry_url, topics)
    stop = asyncio.Event()
    started = time.monotonic()
    log.info("feed starting", extra={"source": config.source, "topics": topics})
    with _stop_on_signals(stop):
        recorders = {
            ex: RecordingWriter(config.record_dir / f"{ex}.jsonl")
            for ex in config.exchanges
            if config.record_dir
        }
        pumps = [
            asyncio.create_task(
                _pump(
                    handler_for(ex),
                    _messages(config, ex, stats),
                    producer,
                    stats,
                    config.limit,
                    _wanted_symbols(config, ex),
                    recorders.get(ex),
                )
            )
            for ex in config.exchanges
        ]
        poller = asyncio.create_task(_serve_delivery_reports(producer))
        try:
            await _until_done(pumps, stop, config.duration)
        finally:  # also when a source failed: stop the others, deliver what was produced
            for task in (*pumps, poller):
                task.cancel()
            await asyncio.gather(*pumps, poller, return_exceptions=True)
            producer.close()
            for recorder in recorders.values():
                recorder.close()
    stats.elapsed_seconds = time.monotonic() - started
    log.info("feed stopped", extra={"stats": stats.to_dict()})
    return stats


def _require_topics(producer: TradeProducer, bootstrap_servers: str) -> None:
    missing = producer.missing_topics()
    if missing:
        raise RuntimeError(f"topics missing on {bootstrap_servers}: {missing}; create them first")


def _check(config: FeedConfig) -> None:
    unknown = set(config.exchanges) - set(EXCHANGES)
    if unknown or not config.exchanges:
        raise ValueError(f"exchanges must be among {EXCHANGES}, got {list(config.exchanges)}")
    if config.source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {config.source!r}")


def _messages(config: FeedConfig, exchange: str, stats: FeedStats) -> AsyncIterator[Received]:
    if config.source == "replay":
        path = (config.replay_files or {}).get(exchange) or config.samples_dir / f"{exchange}.jsonl"
        return replay_messages(path, config.speed, config.loops)
    if config.source == "synthetic":
        return synthetic_messages(exchange, config.rate, config.seed, config.limit)
    handler = handler_for(exchange)
    symbols = list((config.symbols or {}).get(exchange) or handler.default_symbols)
    base_url = (config.live_urls or {}).get(exchange) or handler.live_url
    return websocket_messages(
        handler.stream_url(symbols, base_url),
        handler.subscribe_messages(symbols),
        exchange=exchange,
        policy=config.reconnect,
        stats=stats.connections.setdefault(exchange, ConnectionStats()),
    )


def _wanted_symbols(config: FeedConfig, exchange: str) -> frozenset[str] | None:
    """The symbols to produce (None: all the source gives)."""
    symbols = (config.symbols or {}).get(exchange)
    return frozenset(symbols) if symbols else None


async def _pump(
    handler: ExchangeHandler,
    messages: AsyncIterator[Received],
    producer: TradeProducer,
    stats: FeedStats,
    limit: int | None = None,
    symbols: frozenset[str] | None = None,
    recorder: RecordingWriter | None = None,
) -> None:
    counters = stats.for_exchange(handler.exchange)
    async for message in messages:
        counters.received += 1
        if recorder is not None:
            recorder.write(message)
        _handle(handler, message, producer, stats, symbols)
        if limit is not None and counters.received >= limit:
            return


def _handle(
    handler: ExchangeHandler,
    message: Received,
    producer: TradeProducer,
    stats: FeedStats,
    symbols: frozenset[str] | None = None,
) -> None:
    """Parse one message and produce its trades (those of `symbols`, when given). What cannot be
    parsed (the whole message, or one trade of it) is counted, logged and produced with its text and
    reason to the rejected topic."""
    counters = stats.for_exchange(handler.exchange)
    try:
        parsed = handler.parse_message(message.text, message.at_micros)
    except FeedParseError as exc:
        counters.parse_errors += 1
        _reject(handler.exchange, message, str(exc), producer)
        return
    if not parsed.trades and not parsed.rejected:
        counters.control_messages += 1
        return
    counters.trades += len(parsed.trades)
    for trade in parsed.trades:
        if symbols is not None and trade.get("symbol") not in symbols:
            counters.other_symbols += 1
            continue
        producer.produce(handler.exchange, trade)
    for reason in parsed.rejected:
        counters.rejected_trades += 1
        _reject(handler.exchange, message, reason, producer)


def _reject(exchange: str, message: Received, reason: str, producer: TradeProducer) -> None:
    log.warning(
        "unparseable message sent to the rejected topic",
        extra={"exchange": exchange, "reason": reason, "raw": message.text[:RAW_TEXT_LOG_LIMIT]},
    )
    producer.produce_rejected(exchange, message.text, reason, message.at_micros)


async def _serve_delivery_reports(producer: TradeProducer) -> None:
    """Delivery callbacks only run inside poll(): keep polling while sources are quiet."""
    while True:
        producer.poll(0)
        await asyncio.sleep(0.05)


async def _until_done(pumps: list[asyncio.Task[None]], stop: asyncio.Event, duration: float | None) -> None:
    """Return when every source has ended, `duration` has passed, or `stop` is set; re-raise a
    source's failure."""
    loop = asyncio.get_running_loop()
    deadline = None if duration is None else loop.time() + duration
    stopper = asyncio.create_task(stop.wait())
    waiting: set[asyncio.Task[Any]] = {*pumps, stopper}
    try:
        while waiting != {stopper}:
            timeout = None if deadline is None else max(0.0, deadline - loop.time())
            done, _ = await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if not done or stopper in done:
                return
            for task in done:
                if task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            waiting -= done
    finally:
        stopper.cancel()


@contextlib.contextmanager
def _stop_on_signals(stop: asyncio.Event) -> Any:
    """SIGINT/SIGTERM set `stop` (clean shutdown: flush, then exit) when running in the main thread."""
    loop = asyncio.get_running_loop()
    installed = []
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
