"""The pipeline benchmark's load generator: trades at a fixed rate, stamped with the wall clock.

It produces what the feed produces (each exchange's raw trade in Confluent Avro under the topic's
registered schema id, key = symbol, the feed's producer settings) but skips the feed's wire-JSON
round trip: on this 2-core machine the full synthetic feed needs about one core at 5,000 trades/s
(see hack/bench-feed.sh), and that core would be charged to the pipeline as latency. Here a trade
costs a dict copy, an Avro encode and a produce() call.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import fastavro
from confluent_kafka import Producer

from spark_jobs.avro_schemas import raw_schema_name, schema_json
from spark_jobs.feeds.producer import PRODUCER_SETTINGS
from spark_jobs.feeds.sources.synthetic import BASES
from spark_jobs.synthetic_trades import CryptoDataFactory, confluent_header

TEMPLATES_PER_EXCHANGE = 5_000


@dataclass
class LoadStats:
    produced: int = 0
    delivery_errors: int = 0
    elapsed_seconds: float = 0.0


def _templates(exchange: str, seed: int) -> list[dict[str, Any]]:
    factory = CryptoDataFactory(seed)
    make = factory.binance_raw_trade if exchange == "binance" else factory.kraken_raw_trade
    return [make(base=BASES[i % len(BASES)]) for i in range(TEMPLATES_PER_EXCHANGE)]


def _stamp(exchange: str, record: dict[str, Any], trade_id: int, micros: int) -> dict[str, Any]:
    """A template with a fresh trade id (Gold must not see it as a duplicate) and time = now."""
    stamped = dict(record, trade_id=trade_id, ingestion_timestamp=micros)
    if exchange == "binance":
        stamped["trade_time_ms"] = stamped["event_time_ms"] = micros // 1000
    else:
        stamped["trade_time_seconds"] = f"{micros // 1_000_000}.{micros % 1_000_000:06d}"
    return stamped


def run_paced_load(
    bootstrap_servers: str,
    topics: Mapping[str, str],
    schema_ids: Mapping[str, int],
    rate_per_exchange: float,
    duration_seconds: float,
    seed: int = 42,
    stop: threading.Event | None = None,
) -> LoadStats:
    """Produce `rate_per_exchange` trades/s to each topic for `duration_seconds`, paced against a
    schedule (a late tick catches up, so the offered rate holds); returns what the broker acked."""
    stats = LoadStats()
    lock = threading.Lock()

    def delivered(error: Any, _message: Any) -> None:
        with lock:
            if error is None:
                stats.produced += 1
            else:
                stats.delivery_errors += 1

    settings = {"bootstrap.servers": bootstrap_servers, "client.id": "k2-bench-load", **PRODUCER_SETTINGS}
    producer = Producer(settings)
    plans = []
    for exchange, topic in topics.items():
        schema = fastavro.parse_schema(json.loads(schema_json(raw_schema_name(exchange))))
        header = confluent_header(schema_ids[exchange])
        plans.append((exchange, topic, schema, header, _templates(exchange, seed), 10**12 + seed * 10**9))
    started = time.monotonic()
    sent = 0
    while (elapsed := time.monotonic() - started) < duration_seconds and not (stop and stop.is_set()):
        due = int(elapsed * rate_per_exchange) - sent
        micros = time.time_ns() // 1000
        for _ in range(due):
            for exchange, topic, schema, header, templates, first_id in plans:
                record = _stamp(exchange, templates[sent % len(templates)], first_id + sent, micros)
                body = io.BytesIO(header)
                body.seek(len(header))
                fastavro.schemaless_writer(body, schema, record)
                while True:
                    try:
                        producer.produce(topic, key=record["symbol"].encode(), value=body.getvalue(),
                                         on_delivery=delivered)  # fmt: skip
                        break
                    except BufferError:
                        producer.poll(0.05)
            sent += 1
        producer.poll(0)
        time.sleep(0.005)
    stats.elapsed_seconds = time.monotonic() - started
    producer.flush(60)
    return stats
