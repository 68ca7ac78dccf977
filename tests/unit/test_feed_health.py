"""The feed on Kubernetes: /healthz means "connected and producing" (fails after
stale_after_seconds without an acknowledged trade, counted from the start), /metrics reads the
counters; a feed asked for some symbols produces only theirs; its producer takes the SASL
credentials the operator passes."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from spark_jobs.feeds import binance
from spark_jobs.feeds.handlers import handler_for
from spark_jobs.feeds.health import FEED_METRIC_NAMES, ProgressWatch, serve_feed_endpoint
from spark_jobs.feeds.producer import sasl_settings
from spark_jobs.feeds.runner import _handle
from spark_jobs.feeds.sources import Received
from spark_jobs.feeds.stats import FeedStats
from spark_jobs.synthetic_trades import CryptoDataFactory

pytestmark = pytest.mark.unit


def test_progress_watch_is_healthy_until_stale_then_again_after_progress() -> None:
    watch = ProgressWatch(stale_after_seconds=30, started_at=1000.0)
    assert watch.healthy(1029.0)  # grace from the start: connecting takes a moment
    assert not watch.healthy(1031.0)  # never produced anything
    watch.observe(5, 1031.0)
    assert watch.healthy(1060.0)
    watch.observe(5, 1062.0)  # no new records: still idle since 1031
    assert not watch.healthy(1062.0)
    assert watch.idle_seconds(1062.0) == 31.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def endpoint() -> Iterator[tuple[str, FeedStats, FakeClock]]:
    stats, clock, port = FeedStats(), FakeClock(), free_port()
    server = serve_feed_endpoint(stats, port, stale_after_seconds=60, address="127.0.0.1", clock=clock)
    try:
        yield f"http://127.0.0.1:{port}", stats, clock
    finally:
        server.shutdown()
        server.server_close()


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_healthz_fails_when_nothing_was_produced_for_stale_after_seconds(
    endpoint: tuple[str, FeedStats, FakeClock],
) -> None:
    url, stats, clock = endpoint
    assert get(f"{url}/healthz")[0] == 200
    clock.now = 61.0
    status, body = get(f"{url}/healthz")
    assert status == 503
    assert json.loads(body)["produced"] == 0
    stats.for_exchange("binance").produced = 3  # the broker acknowledged trades
    status, body = get(f"{url}/healthz")
    assert (status, json.loads(body)["seconds_since_produced"]) == (200, 0.0)
    clock.now = 200.0
    assert get(f"{url}/healthz")[0] == 503


def test_metrics_expose_the_feed_counters_per_exchange(endpoint: tuple[str, FeedStats, FakeClock]) -> None:
    url, stats, _ = endpoint
    counters = stats.for_exchange("kraken")
    counters.received, counters.produced, counters.other_symbols = 10, 7, 2
    status, text = get(f"{url}/metrics")
    assert status == 200
    assert 'k2_feed_trades_produced_total{exchange="kraken"} 7.0' in text
    assert 'k2_feed_messages_received_total{exchange="kraken"} 10.0' in text
    assert 'k2_feed_trades_other_symbols_total{exchange="kraken"} 2.0' in text
    for name in FEED_METRIC_NAMES:
        assert f"# TYPE {name} " in text


class RecordingProducer:
    def __init__(self) -> None:
        self.produced: list[dict[str, Any]] = []

    def produce(self, exchange: str, trade: dict[str, Any]) -> None:
        self.produced.append(trade)


def test_a_feed_asked_for_symbols_produces_only_theirs() -> None:
    factory = CryptoDataFactory(7)
    stats, producer = FeedStats(), RecordingProducer()
    for base in ("BTC", "ETH", "SOL", "BTC"):
        text = binance.wire_message(factory.binance_raw_trade(base=base))
        _handle(handler_for("binance"), Received(text, 1), producer, stats, frozenset({"BTCUSDT", "SOLUSDT"}))  # type: ignore[arg-type]
    assert [t["symbol"] for t in producer.produced] == ["BTCUSDT", "SOLUSDT", "BTCUSDT"]
    counters = stats.for_exchange("binance")
    assert (counters.trades, counters.other_symbols) == (4, 1)


def test_the_feed_producer_takes_kafka_sasl_credentials_from_the_operators_variables() -> None:
    assert sasl_settings({}) == {}
    settings = sasl_settings({"K2_KAFKA_SASL_USERNAME": "feed", "K2_KAFKA_SASL_PASSWORD": "s3cret"})
    assert settings == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "feed",
        "sasl.password": "s3cret",
    }
    tuned = sasl_settings({"K2_KAFKA_SASL_USERNAME": "u", "K2_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"})
    assert tuned["security.protocol"] == "SASL_PLAINTEXT"
