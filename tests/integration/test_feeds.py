"""The feed into a real broker and registry: recorded replay, malformed input, synthetic rate, the
`k2 feed` command and its clean shutdown on SIGTERM."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from spark_jobs.cli import main as k2_main
from spark_jobs.contracts import EXCHANGES, raw_topic, rejected_topic, value_subject, with_rejected_topics
from spark_jobs.feeds import run_feed
from spark_jobs.local_infra.kafka_broker import KafkaBroker
from spark_jobs.local_infra.schema_registry import SchemaRegistry
from spark_jobs.registry_client import registry_client
from spark_jobs.rejected_frames import decode_rejected_frame
from spark_jobs.synthetic_trades import confluent_schema_id
from tests.fixtures.kafka_fixtures import (
    decode_values,
    read_topic,
    sample_manifest,
    topic_size,
    write_recording,
)

pytestmark = pytest.mark.integration


def test_replay_produces_every_trade_of_the_sample_decodable_with_the_registry(
    kafka_broker: KafkaBroker, schema_registry: SchemaRegistry, unique_raw_topics: dict[str, str]
) -> None:
    manifest = sample_manifest()
    stats = run_feed(
        EXCHANGES, "replay", 0, None, kafka_broker.bootstrap_servers, schema_registry.url,
        speed=0, topics=unique_raw_topics,
    )  # fmt: skip

    registry = registry_client(schema_registry.url)
    for exchange, topic in unique_raw_topics.items():
        expected = manifest[exchange]
        counters = stats.exchanges[exchange]
        assert counters.received == expected["messages"]
        assert counters.trades == counters.produced == expected["trades"]  # multi-trade messages in full
        assert counters.parse_errors == expected["malformed"]
        assert counters.rejected_trades == expected["rejected_trades"]
        assert counters.rejected_produced == expected["malformed"] + expected["rejected_trades"]
        assert counters.control_messages == expected["control"]
        assert counters.delivery_errors == counters.undelivered == 0

        messages = read_topic(kafka_broker.bootstrap_servers, topic, expected["trades"])
        assert len(messages) == expected["trades"]
        schema_id = registry.get_latest_version(value_subject(topic)).schema_id
        assert {confluent_schema_id(m.value() or b"") for m in messages} == {schema_id}
        records = decode_values(schema_registry.url, topic, messages)
        assert [(m.key() or b"").decode() for m in messages] == [r["symbol"] for r in records]
        # every trade produced, resends included (Gold drops those); ids repeat across symbols
        assert len({(r["symbol"], r["trade_id"]) for r in records}) == expected["distinct_trades"]
        assert len({r["trade_id"] for r in records}) < expected["distinct_trades"]
        assert all(float(r["price"]) > 0 and float(r["quantity"]) > 0 for r in records)


def test_malformed_replay_lines_are_counted_logged_and_sent_to_the_rejected_topic(
    kafka_broker: KafkaBroker,
    schema_registry: SchemaRegistry,
    unique_raw_topics: dict[str, str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    trade = (
        '{"symbol":"BTC/USD","side":"buy","price":%s,"qty":0.5,"ord_type":"market","trade_id":%d,'
        '"timestamp":"2024-06-03T14:30:00.123456Z"}'
    )
    good = '{"channel":"trade","type":"update","data":[%s]}'
    malformed = [
        '{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD"',  # cut off mid-message
        '{"channel":"trade","type":"update","data":[]}',  # a trade message without trades
    ]
    # one bad trade between two good ones: the good ones are produced, the bad one is rejected alone
    mixed = good % ",".join([trade % ("64000.2", 3), trade % ('"x"', 4), trade % ("64000.3", 5)])
    lines = [good % (trade % ("64000.1", 1)), *malformed, mixed, good % (trade % ("64000.4", 2))]
    write_recording(tmp_path / "kraken.jsonl", [*lines, '{"channel":"heartbeat"}'])

    with caplog.at_level(logging.WARNING, logger="spark_jobs.feeds.runner"):
        stats = run_feed(
            ["kraken"], "replay", 0, None, kafka_broker.bootstrap_servers, schema_registry.url,
            speed=0, topics=unique_raw_topics, samples_dir=tmp_path,
        )  # fmt: skip

    counters = stats.exchanges["kraken"]
    assert (counters.received, counters.parse_errors, counters.control_messages) == (6, 2, 1)
    assert (counters.produced, counters.rejected_trades, counters.rejected_produced) == (4, 1, 3)
    assert topic_size(kafka_broker.bootstrap_servers, unique_raw_topics["kraken"]) == 4
    rejected = read_topic(kafka_broker.bootstrap_servers, rejected_topic(unique_raw_topics["kraken"]), 3)
    envelopes = [decode_rejected_frame(m.value() or b"") for m in rejected]
    assert [e["raw"] for e in envelopes] == [*malformed, mixed]  # the text exactly as received
    assert "not JSON" in str(envelopes[0]["reason"])
    assert str(envelopes[2]["reason"]).startswith("trade 2 of 3 (trade_id 4): kraken price: not a number")
    logged_raw = [record.__dict__.get("raw") for record in caplog.records]
    assert logged_raw == [*malformed, mixed]  # each rejected message is logged with its text


def test_synthetic_rate_is_honoured_within_ten_percent(
    kafka_broker: KafkaBroker, schema_registry: SchemaRegistry, unique_raw_topics: dict[str, str]
) -> None:
    rate, duration = 150.0, 4.0
    stats = run_feed(
        EXCHANGES, "synthetic", rate, duration, kafka_broker.bootstrap_servers, schema_registry.url,
        topics=unique_raw_topics,
    )  # fmt: skip

    # Paced, not bursted: it cannot finish before its duration; it stops soon after (the upper bound is
    # loose because start-up and the final flush stretch with the machine's load; speed is a benchmark).
    assert duration * 0.9 <= stats.elapsed_seconds < duration + 30
    for exchange, topic in unique_raw_topics.items():
        produced = stats.exchanges[exchange].produced
        assert produced == pytest.approx(rate * duration, rel=0.10), exchange
        assert topic_size(kafka_broker.bootstrap_servers, topic) == produced


def test_feed_refuses_topics_the_broker_does_not_have(
    kafka_broker: KafkaBroker, schema_registry: SchemaRegistry
) -> None:
    absent = f"k2.absent.{uuid.uuid4().hex[:8]}"
    with pytest.raises(RuntimeError, match=rf"topics missing on .*{absent}"):
        run_feed(
            ["binance"], "replay", 0, None, kafka_broker.bootstrap_servers, schema_registry.url,
            speed=0, topics={"binance": absent},
        )  # fmt: skip


def test_k2_feed_command_replays_into_both_topics(
    kafka_broker: KafkaBroker, schema_registry: SchemaRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    suffix = f".cli{uuid.uuid4().hex[:6]}"
    kafka_broker.create_topics(with_rejected_topics(raw_topic(exchange) + suffix for exchange in EXCHANGES))
    code = k2_main(
        ["feed", "--source", "replay", "--speed", "0", "--topic-suffix", suffix,
         "--bootstrap-servers", kafka_broker.bootstrap_servers, "--registry-url", schema_registry.url]
    )  # fmt: skip

    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    for exchange, expected in sample_manifest().items():
        assert printed["exchanges"][exchange]["produced"] == expected["trades"]
        assert topic_size(kafka_broker.bootstrap_servers, raw_topic(exchange) + suffix) == expected["trades"]


def test_sigterm_stops_the_feed_cleanly_with_everything_flushed(
    kafka_broker: KafkaBroker, schema_registry: SchemaRegistry, unique_raw_topics: dict[str, str]
) -> None:
    suffix = unique_raw_topics["binance"].removeprefix(raw_topic("binance"))
    command = [
        sys.executable, "-m", "spark_jobs.cli", "feed", "--exchange", "binance", "--source", "synthetic",
        "--rate", "100", "--topic-suffix", suffix,
        "--bootstrap-servers", kafka_broker.bootstrap_servers, "--registry-url", schema_registry.url,
    ]  # fmt: skip
    feed = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ
    )
    try:
        deadline = time.monotonic() + 60
        while topic_size(kafka_broker.bootstrap_servers, unique_raw_topics["binance"]) == 0:
            assert time.monotonic() < deadline, "the feed produced nothing within 60 s"
            assert feed.poll() is None, feed.communicate()[1]
            time.sleep(0.2)
        feed.send_signal(signal.SIGTERM)
        out, err = feed.communicate(timeout=30)
    finally:
        if feed.poll() is None:
            feed.kill()

    assert feed.returncode == 0, err
    produced = json.loads(out)["exchanges"]["binance"]["produced"]
    assert produced > 0
    assert topic_size(kafka_broker.bootstrap_servers, unique_raw_topics["binance"]) == produced
    assert '"message": "feed stopped"' in err  # structured JSON log line


def test_the_feed_pod_command_produces_only_its_symbols_and_reports_healthy_while_producing(
    kafka_broker: KafkaBroker, schema_registry: SchemaRegistry, unique_raw_topics: dict[str, str]
) -> None:
    """What a feed Deployment runs (k2_operator.feed_deployments.feed_command): an exact --topic, the
    exchange's --symbols, and the /healthz + /metrics endpoint its probes and Prometheus read."""
    port = free_port()
    command = [
        sys.executable, "-m", "spark_jobs.cli", "feed", "--exchange", "kraken", "--source", "synthetic",
        "--rate", "50", "--topic", unique_raw_topics["kraken"], "--symbols", "BTC/USD", "ETH/USD",
        "--metrics-port", str(port), "--stale-after", "30",
        "--bootstrap-servers", kafka_broker.bootstrap_servers, "--registry-url", schema_registry.url,
    ]  # fmt: skip
    env = {**os.environ, "K2_FEED_METRICS_ADDRESS": "127.0.0.1"}
    feed = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        health: dict[str, Any] = {}
        while not health.get("produced"):
            assert time.monotonic() < deadline, f"no healthy, producing feed within 60 s: {health}"
            assert feed.poll() is None, feed.communicate()[1]
            health = http_json(f"http://127.0.0.1:{port}/healthz")
            time.sleep(0.3)
        assert health["healthy"] is True
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        assert 'k2_feed_trades_produced_total{exchange="kraken"}' in metrics
        feed.send_signal(signal.SIGTERM)
        out, err = feed.communicate(timeout=30)
    finally:
        if feed.poll() is None:
            feed.kill()
    assert feed.returncode == 0, err
    counters = json.loads(out)["exchanges"]["kraken"]
    assert counters["other_symbols"] > 0  # the generator also makes SOL and XDG trades
    messages = read_topic(kafka_broker.bootstrap_servers, unique_raw_topics["kraken"], counters["produced"])
    assert {(m.key() or b"").decode() for m in messages} <= {"BTC/USD", "ETH/USD"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_json(url: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as error:
        return dict(json.loads(error.read()))
    except OSError:
        return {}


def test_k2_feed_records_what_it_receives_and_replays_a_users_own_file(
    kafka_broker: KafkaBroker,
    schema_registry: SchemaRegistry,
    unique_raw_topics: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--record writes the replay format (any source: here synthetic), --file plays it back."""
    suffix = unique_raw_topics["kraken"].removeprefix(raw_topic("kraken"))
    common = ["--bootstrap-servers", kafka_broker.bootstrap_servers, "--registry-url", schema_registry.url,
              "--topic-suffix", suffix, "--exchange", "kraken"]  # fmt: skip
    captured = tmp_path / "capture"
    assert (
        k2_main(
            [
                "feed",
                "--source",
                "synthetic",
                "--rate",
                "0",
                "--limit",
                "25",
                "--record",
                str(captured),
                *common,
            ]
        )
        == 0
    )
    recorded = (captured / "kraken.jsonl").read_text().splitlines()
    assert len(recorded) == 25 and all(
        json.loads(line)["raw"].startswith('{"channel":"trade"') for line in recorded
    )
    capsys.readouterr()

    assert (
        k2_main(
            ["feed", "--source", "replay", "--speed", "0", "--file", str(captured / "kraken.jsonl"), *common]
        )
        == 0
    )
    replayed = json.loads(capsys.readouterr().out)["exchanges"]
    assert list(replayed) == ["kraken"]
    assert replayed["kraken"]["received"] == 25 and replayed["kraken"]["produced"] == 25
    assert topic_size(kafka_broker.bootstrap_servers, unique_raw_topics["kraken"]) == 50  # synthetic + replay

    assert k2_main(["feed", "--source", "replay", "--file", str(tmp_path / "absent.jsonl"), *common]) == 2
