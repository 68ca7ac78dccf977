"""The real schema registry (Apicurio 3, Confluent-compatible API): registration and compatibility."""

from __future__ import annotations

import json
import uuid

import pytest
from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry.error import SchemaRegistryError

from spark_jobs.avro_schemas import load_schema, schema_json
from spark_jobs.contracts import RAW_TOPICS, value_subject
from spark_jobs.local_infra.schema_registry import SchemaRegistry, register_schema, register_trade_schemas
from spark_jobs.registry_client import registry_client

pytestmark = pytest.mark.integration


def test_trade_schemas_registered_under_topic_value_subjects_with_backward(
    schema_registry: SchemaRegistry,
) -> None:
    client = registry_client(schema_registry.url)
    ids = register_trade_schemas(schema_registry.url)

    assert set(ids) == {value_subject(topic) for topic in RAW_TOPICS.values()}
    for exchange, topic in RAW_TOPICS.items():
        subject = value_subject(topic)
        latest = client.get_latest_version(subject)
        assert latest.schema_id == ids[subject]
        assert json.loads(latest.schema.schema_str or "") == json.loads(schema_json(f"{exchange}_raw_trade"))
        assert client.get_compatibility(subject) == "BACKWARD"
    # identical content keeps its id: re-registering on every start is safe
    assert register_trade_schemas(schema_registry.url) == ids


def test_incompatible_v2_rejected_compatible_v2_accepted(schema_registry: SchemaRegistry) -> None:
    client = registry_client(schema_registry.url)
    subject = f"k2.compat.{uuid.uuid4().hex[:8]}-value"
    v1 = load_schema("binance_raw_trade")
    v1_id = register_schema(client, subject, json.dumps(v1))

    # a new required field without a default: v2 readers cannot read v1 data
    incompatible = load_schema("binance_raw_trade")
    incompatible["fields"].append({"name": "venue", "type": "string"})
    with pytest.raises(SchemaRegistryError) as rejected:
        client.register_schema(subject, Schema(json.dumps(incompatible), "AVRO"))
    assert rejected.value.http_status_code == 409

    compatible = load_schema("binance_raw_trade")
    compatible["fields"].append({"name": "venue", "type": ["null", "string"], "default": None})
    v2_id = client.register_schema(subject, Schema(json.dumps(compatible), "AVRO"))

    assert v2_id != v1_id
    assert [client.get_version(subject, v).schema_id for v in client.get_versions(subject)] == [v1_id, v2_id]


def test_registry_start_is_idempotent(schema_registry: SchemaRegistry) -> None:
    pid = schema_registry.pid
    assert pid is not None
    assert schema_registry.start().pid == pid
    assert schema_registry.rss_bytes() > 0
