"""Configuration of one streaming job: the contract between the job entrypoint, the local runner and
the operator (which renders it into each driver's ConfigMap as YAML).

Secrets never appear here: credentials reach a job as environment variables from Secret references
(`K2_KAFKA_SASL_USERNAME`, `K2_KAFKA_SASL_PASSWORD`, `K2_SCHEMA_REGISTRY_USERNAME`,
`K2_SCHEMA_REGISTRY_PASSWORD`, and Hadoop/S3A keys such as `AWS_ACCESS_KEY_ID`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from k2_shared.contracts import EXCHANGES, LAYERS, LOCAL_METRICS_PORTS, raw_topic

#: Silver's trade-age limit: older trades go to the DLQ as timestamp_out_of_range.
DEFAULT_MAX_TRADE_AGE = "7 days"
#: Silver's trade-age limit where the trades come from the recorded sample (spark_jobs/feeds/samples, from
#: 2024): the replay source keeps the recording's trade times, so the default 7 days would send every
#: replayed trade to the DLQ as timestamp_out_of_range.
REPLAY_MAX_TRADE_AGE = "36500 days"

#: Delta's default deleted-file retention, the floor of a VACUUM's (jobs/table_maintenance.py).
MIN_VACUUM_RETENTION_HOURS = 168


#: libyaml's emitter where PyYAML was built with it (its wheels are): the same text as the pure-Python
#: SafeDumper, about five times faster; the operator renders every job's ConfigMap on each reconciliation.
_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def dump_yaml(data: Any) -> str:
    """``yaml.safe_dump(data, sort_keys=True)``, with libyaml when available."""
    return str(yaml.dump(data, Dumper=_DUMPER, sort_keys=True))


@dataclass(frozen=True)
class JobConfig:
    """Everything one of the five jobs needs. Table and checkpoint locations are URIs (a local
    folder is `file:///...`; object storage works by configuration, e.g. `s3a://bucket/k2`)."""

    layer: str  # bronze | silver | gold
    exchange: str | None  # binance | kraken; None for gold
    kafka_bootstrap_servers: str
    schema_registry_url: str
    tables_uri: str
    checkpoints_uri: str
    #: Every layer's micro-batch trigger. 2 s (was 10 s): a trade waits for one trigger per layer, and a
    #: batch that finds nothing new costs only the offset check (README, "Pipeline benchmark").
    trigger_interval: str = "2 seconds"
    gold_watermark: str = "10 minutes"
    #: Kafka records per Bronze micro-batch, at most. A batch has a fixed cost (about 1 s locally: Delta
    #: commit, offsets and commit logs), so large batches catch up fast after downtime; at the default
    #: trigger this still bounds Bronze at 250,000 records/s per exchange and ~40 MB of values per batch.
    max_offsets_per_trigger: int = 500_000
    starting_offsets: str = "earliest"
    max_trade_age: str = DEFAULT_MAX_TRADE_AGE
    metrics_port: int = 8000
    spark_conf: dict[str, str] = field(default_factory=dict)
    #: Address the metrics endpoint binds: all interfaces in a pod (Prometheus scrapes the pod IP),
    #: 127.0.0.1 locally.
    metrics_bind_address: str = "0.0.0.0"
    #: Kafka topic override for bronze (tests use unique topics); empty means the contract's raw topic.
    kafka_topic: str | None = None
    #: Silver/Gold: Delta source files per micro-batch (bounds a batch after downtime); None = Delta's 1000.
    max_files_per_trigger: int | None = None
    #: VACUUM of the job's own tables: how often (0 = never) and the retention it keeps (>= 168 h, see
    #: jobs/table_maintenance.py: readers lagging up to the retention still find their files).
    vacuum_interval_hours: float = 24.0
    vacuum_retention_hours: int = 168

    def __post_init__(self) -> None:
        if self.layer not in LAYERS:
            raise ValueError(f"layer must be one of {LAYERS}, got {self.layer!r}")
        if self.layer == "gold":
            if self.exchange is not None:
                raise ValueError("gold reads both exchanges: exchange must be empty")
        elif self.exchange not in EXCHANGES:
            raise ValueError(f"exchange must be one of {EXCHANGES} for {self.layer}, got {self.exchange!r}")
        if self.vacuum_retention_hours < MIN_VACUUM_RETENTION_HOURS:
            raise ValueError(
                f"vacuum_retention_hours must be >= {MIN_VACUUM_RETENTION_HOURS} (7 days: streams reading "
                f"the table may lag that long), got {self.vacuum_retention_hours}"
            )

    @property
    def job_name(self) -> str:
        """bronze-binance, silver-kraken, gold, ... (the names in contracts.JOBS)."""
        return self.layer if self.exchange is None else f"{self.layer}-{self.exchange}"

    @property
    def topic(self) -> str | None:
        if self.kafka_topic:
            return self.kafka_topic
        return raw_topic(self.exchange) if self.exchange else None

    def table_uri(self, table: str) -> str:
        return f"{self.tables_uri.rstrip('/')}/{table}"

    @property
    def checkpoint_uri(self) -> str:
        return f"{self.checkpoints_uri.rstrip('/')}/{self.job_name}"

    def with_env_overrides(self, environ: Mapping[str, str] | None = None) -> JobConfig:
        """A copy with fields replaced by K2_* environment variables (``ENV_OVERRIDES``), so a pod
        can point a rendered config at another broker or bucket without re-rendering it."""
        env = os.environ if environ is None else environ
        types = {f.name: str(f.type) for f in dataclasses.fields(self)}
        changes: dict[str, Any] = {}
        for variable, field_name in ENV_OVERRIDES.items():
            if variable in env:
                changes[field_name] = (
                    int(env[variable]) if types[field_name].startswith("int") else env[variable]
                )
        return dataclasses.replace(self, **changes) if changes else self

    def to_yaml(self) -> str:
        return dump_yaml(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown job config keys: {unknown}")
        return cls(**data)

    @classmethod
    def from_yaml_file(cls, path: str | Path) -> JobConfig:
        return cls.from_dict(yaml.safe_load(Path(path).read_text()))

    @classmethod
    def local_default(
        cls, layer: str, exchange: str | None, *, kafka: str, registry: str, root: Path
    ) -> JobConfig:
        name = layer if exchange is None else f"{layer}-{exchange}"
        return cls(
            layer=layer,
            exchange=exchange,
            kafka_bootstrap_servers=kafka,
            schema_registry_url=registry,
            tables_uri=(root / "tables").resolve().as_uri(),
            checkpoints_uri=(root / "checkpoints").resolve().as_uri(),
            metrics_port=LOCAL_METRICS_PORTS[name],
            metrics_bind_address="127.0.0.1",
        )


#: Environment variable -> JobConfig field it overrides (strings converted to the field's type).
ENV_OVERRIDES: dict[str, str] = {
    "K2_KAFKA_BOOTSTRAP_SERVERS": "kafka_bootstrap_servers",
    "K2_SCHEMA_REGISTRY_URL": "schema_registry_url",
    "K2_TABLES_URI": "tables_uri",
    "K2_CHECKPOINTS_URI": "checkpoints_uri",
    "K2_TRIGGER_INTERVAL": "trigger_interval",
    "K2_GOLD_WATERMARK": "gold_watermark",
    "K2_MAX_OFFSETS_PER_TRIGGER": "max_offsets_per_trigger",
    "K2_MAX_FILES_PER_TRIGGER": "max_files_per_trigger",
    "K2_METRICS_PORT": "metrics_port",
    "K2_METRICS_BIND_ADDRESS": "metrics_bind_address",
}
