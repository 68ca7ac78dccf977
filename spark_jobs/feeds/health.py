"""The feed's HTTP endpoint on Kubernetes: `/metrics` (Prometheus, read from the feed's counters at scrape
time, nothing added to the produce path) and `/healthz`, which means "connected and producing": it fails
once the broker has acknowledged nothing for `stale_after_seconds` (counted from the start, so a feed
that never connects fails too), and Kubernetes then restarts the feed.

    server = serve_feed_endpoint(stats, port=8000, stale_after_seconds=120)   # a daemon thread
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from spark_jobs.feeds.stats import FeedStats

# --- Names (counters as a scrape shows them) --------------------------------------------------------
FEED_MESSAGES_RECEIVED = "k2_feed_messages_received_total"
FEED_TRADES_PRODUCED = "k2_feed_trades_produced_total"
FEED_TRADES_OTHER_SYMBOLS = "k2_feed_trades_other_symbols_total"
FEED_PARSE_ERRORS = "k2_feed_parse_errors_total"
FEED_DELIVERY_ERRORS = "k2_feed_delivery_errors_total"
FEED_CONNECTS = "k2_feed_websocket_connects_total"
FEED_SECONDS_SINCE_PRODUCED = "k2_feed_seconds_since_last_produced"

#: Every metric family name the feed exports (label: exchange).
FEED_METRIC_NAMES: tuple[str, ...] = (
    FEED_MESSAGES_RECEIVED,
    FEED_TRADES_PRODUCED,
    FEED_TRADES_OTHER_SYMBOLS,
    FEED_PARSE_ERRORS,
    FEED_DELIVERY_ERRORS,
    FEED_CONNECTS,
    FEED_SECONDS_SINCE_PRODUCED,
)


@dataclass
class ProgressWatch:
    """When the produced count last grew. Pure: the caller passes the count and the time."""

    stale_after_seconds: float
    started_at: float
    last_count: int = 0
    last_progress_at: float | None = None

    def observe(self, count: int, now: float) -> None:
        if count > self.last_count:
            self.last_count, self.last_progress_at = count, now

    def idle_seconds(self, now: float) -> float:
        since = self.started_at if self.last_progress_at is None else self.last_progress_at
        return max(0.0, now - since)

    def healthy(self, now: float) -> bool:
        return self.idle_seconds(now) <= self.stale_after_seconds


class FeedStatsCollector(Collector):
    """Prometheus families built from FeedStats when scraped."""

    def __init__(self, stats: FeedStats, watch: ProgressWatch, clock: Callable[[], float]) -> None:
        self.stats, self.watch, self.clock = stats, watch, clock

    def collect(self) -> Iterator[Any]:
        families = {
            FEED_MESSAGES_RECEIVED: ("Messages received from the source", "received"),
            FEED_TRADES_PRODUCED: ("Trades acknowledged by the broker", "produced"),
            FEED_TRADES_OTHER_SYMBOLS: ("Trades skipped: symbol not in the feed's list", "other_symbols"),
            FEED_PARSE_ERRORS: ("Malformed messages skipped", "parse_errors"),
            FEED_DELIVERY_ERRORS: ("Trades the broker or client failed to deliver", "delivery_errors"),
        }
        exchanges = dict(self.stats.exchanges)
        for name, (documentation, attribute) in families.items():
            family = CounterMetricFamily(name.removesuffix("_total"), documentation, labels=["exchange"])
            for exchange, counters in exchanges.items():
                family.add_metric([exchange], getattr(counters, attribute))
            yield family
        connects = CounterMetricFamily(
            FEED_CONNECTS.removesuffix("_total"), "Websocket connections opened (live)", labels=["exchange"]
        )
        for exchange, connection in dict(self.stats.connections).items():
            connects.add_metric([exchange], connection.connects)
        yield connects
        now = self.clock()
        self.watch.observe(self.stats.produced, now)
        idle = GaugeMetricFamily(
            FEED_SECONDS_SINCE_PRODUCED, "Seconds since the broker last acknowledged a trade"
        )
        idle.add_metric([], self.watch.idle_seconds(now))
        yield idle


def serve_feed_endpoint(
    stats: FeedStats,
    port: int,
    stale_after_seconds: float,
    address: str = "0.0.0.0",
    clock: Callable[[], float] = time.monotonic,
) -> ThreadingHTTPServer:
    """Serve /metrics and /healthz from a daemon thread; returns the server (shutdown() stops it)."""
    watch = ProgressWatch(stale_after_seconds, started_at=clock())
    registry = CollectorRegistry()
    registry.register(FeedStatsCollector(stats, watch, clock))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/metrics"):
                self._reply(200, generate_latest(registry), "text/plain; version=0.0.4")
            elif self.path.startswith("/healthz"):
                now = clock()
                watch.observe(stats.produced, now)
                body = {
                    "healthy": watch.healthy(now),
                    "produced": stats.produced,
                    "seconds_since_produced": round(watch.idle_seconds(now), 1),
                    "stale_after_seconds": stale_after_seconds,
                }
                self._reply(200 if body["healthy"] else 503, json.dumps(body).encode(), "application/json")
            else:
                self._reply(404, b"not found\n", "text/plain")

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # probes every few seconds: no access log
            pass

    server = ThreadingHTTPServer((address, port), Handler)
    threading.Thread(target=server.serve_forever, name="feed-endpoint", daemon=True).start()
    return server
