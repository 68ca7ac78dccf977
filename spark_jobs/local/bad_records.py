"""A small, known set of bad records the local run injects once per data folder, so the DLQ shows
every kind of failure and the summary can check the DLQ holds exactly these and nothing else."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import Producer

from spark_jobs.contracts import raw_topic
from spark_jobs.synthetic_trades import CryptoDataFactory, InvalidTradeRecord

#: A schema id no registry run here hands out (Apicurio counts content ids from 1).
UNKNOWN_SCHEMA_ID = 999_999
INJECTED_FILE = "injected_bad_records.json"


def bad_records(binance_schema_id: int) -> list[InvalidTradeRecord]:
    factory = CryptoDataFactory(seed=7, start_time=datetime.now(UTC))
    return factory.invalid_trade_records(binance_schema_id, unknown_schema_id=UNKNOWN_SCHEMA_ID)


def inject_bad_records(bootstrap_servers: str, binance_schema_id: int, data_dir: Path) -> Counter[str]:
    """Produce the bad records unless this data folder already got them; return {error_type: n}
    of everything injected into this folder's pipeline so far."""
    marker = data_dir / INJECTED_FILE
    if marker.exists():
        return Counter(json.loads(marker.read_text()))
    records = bad_records(binance_schema_id)
    producer = Producer({"bootstrap.servers": bootstrap_servers, "enable.idempotence": True})
    for record in records:
        producer.produce(raw_topic(record.exchange), key=b"BAD", value=record.value)
    if producer.flush(30) != 0:
        raise RuntimeError("bad records were not all delivered to Kafka")
    injected = Counter(str(r.expected_error) for r in records)
    marker.write_text(json.dumps(injected, sort_keys=True))
    return injected
