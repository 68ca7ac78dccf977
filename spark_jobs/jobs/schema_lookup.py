"""Writer schemas for the schema ids Silver meets, from the registry's Confluent API, cached.

An id the registry does not know (HTTP 404) is simply absent from the answer, so its records go to the
DLQ as ``unknown_schema_id``; any other registry failure raises, failing the batch so it is retried
from the checkpoint instead of misfiling good records as bad.
"""

from __future__ import annotations

from collections.abc import Iterable

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from spark_jobs.registry_client import registry_client

NOT_FOUND = 404


class WriterSchemaCache:
    """schema id -> writer schema JSON. Found ids are cached for the process's life (registry ids are
    immutable); unknown ids are asked again next batch, since they may be registered later."""

    def __init__(self, client: SchemaRegistryClient) -> None:
        self._client = client
        self._known: dict[int, str] = {}
        self.lookups = 0

    @classmethod
    def for_url(cls, url: str) -> WriterSchemaCache:
        return cls(registry_client(url))

    def writer_schemas(self, schema_ids: Iterable[int]) -> dict[int, str]:
        wanted = {int(i) for i in schema_ids if i is not None}
        for schema_id in sorted(wanted - set(self._known)):
            schema = self._fetch(schema_id)
            if schema is not None:
                self._known[schema_id] = schema
        return {i: self._known[i] for i in wanted if i in self._known}

    def _fetch(self, schema_id: int) -> str | None:
        self.lookups += 1
        try:
            return str(self._client.get_schema(schema_id).schema_str)
        except SchemaRegistryError as error:
            if error.http_status_code == NOT_FOUND:
                return None
            raise
