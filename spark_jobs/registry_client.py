"""The one way K2 builds a schema-registry client (feeds, Silver's lookups, local setup, tests).

Two settings matter against any Confluent-compatible registry (Apicurio's ccompat API here):
- a request timeout: confluent-kafka's default is none, and one unanswered request hung a feed forever;
- the subject of a topic's values is named by our contract (``contracts.value_subject``), not looked up
  through the newer "associations" API, which Apicurio does not implement.
"""

from __future__ import annotations

import os
from typing import Any

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.serialization import SerializationContext

from spark_jobs.contracts import value_subject

REGISTRY_TIMEOUT_SECONDS = 10


def registry_client(url: str) -> SchemaRegistryClient:
    """A client with a timeout, and basic auth from the environment when set (never from config)."""
    conf: dict[str, Any] = {"url": url, "timeout": REGISTRY_TIMEOUT_SECONDS}
    user = os.environ.get("K2_SCHEMA_REGISTRY_USERNAME")
    if user:
        conf["basic.auth.user.info"] = f"{user}:{os.environ.get('K2_SCHEMA_REGISTRY_PASSWORD', '')}"
    return SchemaRegistryClient(conf)


def topic_value_subject(ctx: SerializationContext | None, record_name: str | None) -> str:
    """`subject.name.strategy` for serializers: `<topic>-value`, as the contract says."""
    if ctx is None or not ctx.topic:
        raise ValueError("a topic is needed to name the value subject")
    return value_subject(ctx.topic)
