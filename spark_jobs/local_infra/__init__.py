"""The real servers of the local (embedded) mode: a Kafka broker and a schema registry.

Both run from jars the hack/fetch-*.sh scripts cache under ~/.cache/k2/, listen on 127.0.0.1 only,
keep a pid file and a log file in their work dir, and are stopped by that pid.
"""

from spark_jobs.local_infra.kafka_broker import KafkaBroker
from spark_jobs.local_infra.schema_registry import SchemaRegistry, register_trade_schemas

__all__ = ["KafkaBroker", "SchemaRegistry", "register_trade_schemas"]
