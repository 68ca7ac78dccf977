"""Trades into Kafka in Confluent wire format: key = symbol, value = AvroSerializer output (magic
byte 0, 4-byte schema id, Avro body) under subject `<topic>-value`. What a feed could not parse goes
to the raw topic's rejected-frames topic as a JSON envelope (spark_jobs.rejected_frames).

The producer is idempotent (acks=all), compresses with lz4 and lingers briefly to batch. Every
delivery report is counted; failures are logged, never dropped silently; close() flushes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from spark_jobs.avro_schemas import raw_schema_name, schema_json
from spark_jobs.contracts import feed_topics, rejected_topic
from spark_jobs.feeds.stats import FeedStats
from spark_jobs.registry_client import registry_client, topic_value_subject
from spark_jobs.rejected_frames import encode_rejected_frame

log = logging.getLogger(__name__)

PRODUCER_SETTINGS: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "compression.type": "lz4",
    "linger.ms": 20,
    "batch.num.messages": 10_000,
    "queue.buffering.max.messages": 200_000,
}


def sasl_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """librdkafka SASL settings from the variables the operator sets from spec.kafka.credentialsSecretRef
    (the same ones, and defaults, the jobs' Kafka source reads); none when no username is set."""
    user = environ.get("K2_KAFKA_SASL_USERNAME")
    if not user:
        return {}
    return {
        "security.protocol": environ.get("K2_KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
        "sasl.mechanism": environ.get("K2_KAFKA_SASL_MECHANISM", "PLAIN"),
        "sasl.username": user,
        "sasl.password": environ.get("K2_KAFKA_SASL_PASSWORD", ""),
    }


class TradeProducer:
    def __init__(
        self,
        bootstrap_servers: str,
        registry_url: str,
        topics: Mapping[str, str],
        stats: FeedStats,
        **overrides: Any,
    ) -> None:
        self.topics = dict(topics)
        self.stats = stats
        registry = registry_client(registry_url)
        # The schemas are registered (with BACKWARD) at feed start; the serializer only looks
        # its id up, so a missing registration fails loudly instead of registering under NONE.
        self._serializers = {
            exchange: AvroSerializer(
                registry,
                schema_json(raw_schema_name(exchange)),
                conf={"auto.register.schemas": False, "subject.name.strategy": topic_value_subject},
            )
            for exchange in self.topics
        }
        self._contexts = {
            exchange: SerializationContext(topic, MessageField.VALUE)
            for exchange, topic in self.topics.items()
        }
        self._in_flight = dict.fromkeys(self.topics, 0)
        self._counted_out = False
        self._reports = {exchange: self._on_delivery(exchange) for exchange in self.topics}
        self._rejected_reports = {
            exchange: self._on_delivery(exchange, rejected=True) for exchange in self.topics
        }
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap_servers,
                "client.id": "k2-feed",
                **PRODUCER_SETTINGS,
                **sasl_settings(os.environ),
                **overrides,
            }
        )

    def missing_topics(self, timeout: float = 15.0) -> list[str]:
        """Topics the broker does not have (it does not auto-create them: a typo must not go unnoticed)."""
        try:
            present = self._producer.list_topics(timeout=timeout).topics
        except KafkaException as exc:
            raise RuntimeError(f"Kafka unreachable: {exc.args[0].str()}") from exc
        wanted = [name for topic in self.topics.values() for name in feed_topics(topic)]
        return sorted(topic for topic in wanted if topic not in present)

    def produce(self, exchange: str, trade: dict[str, Any]) -> None:
        value = self._serializers[exchange](trade, self._contexts[exchange])
        self._send(exchange, self.topics[exchange], trade["symbol"].encode(), value, self._reports[exchange])

    def produce_rejected(self, exchange: str, raw: str, reason: str, received_at_micros: int) -> None:
        """A frame (or one trade of it) the parser rejected, with its text and why, for the DLQ."""
        value = encode_rejected_frame(exchange, raw, reason, received_at_micros)
        topic = rejected_topic(self.topics[exchange])
        self._send(exchange, topic, exchange.encode(), value, self._rejected_reports[exchange])

    def _send(self, exchange: str, topic: str, key: bytes, value: bytes, report: Any) -> None:
        while True:
            try:
                self._producer.produce(topic, key=key, value=value, on_delivery=report)
                break
            except BufferError:  # local queue full: let deliveries drain, then retry
                self._producer.poll(0.05)
        self._in_flight[exchange] += 1
        self._producer.poll(0)

    def poll(self, timeout: float = 0) -> None:
        self._producer.poll(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Flush what is queued; whatever is still queued after `timeout` is counted as undelivered."""
        if self._producer.flush(timeout):
            for exchange, count in self._in_flight.items():
                if count:
                    log.error("records undelivered at shutdown", extra={"exchange": exchange, "count": count})
                    self.stats.for_exchange(exchange).undelivered += count
            self._counted_out = True  # the purge's failure reports below are already counted
            self._producer.purge()
            self._producer.flush(5)
        self._producer.close()

    def _on_delivery(self, exchange: str, rejected: bool = False) -> Any:
        counters = self.stats.for_exchange(exchange)

        def report(error: KafkaError | None, message: Message) -> None:
            if self._counted_out:
                return
            self._in_flight[exchange] -= 1
            if error is None:
                if rejected:
                    counters.rejected_produced += 1
                else:
                    counters.produced += 1
                return
            counters.delivery_errors += 1
            log.error(
                "delivery failed",
                extra={"exchange": exchange, "topic": message.topic(), "error": str(error)},
            )

        return report
