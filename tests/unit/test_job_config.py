"""JobConfig, the contract with the operator: round trips, env overrides, backward compatibility."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from spark_jobs.contracts import JOB_NAMES, JOBS, LOCAL_METRICS_PORTS
from spark_jobs.job_config import ENV_OVERRIDES, JobConfig

pytestmark = pytest.mark.unit


def make(**overrides):
    base = dict(
        layer="silver",
        exchange="kraken",
        kafka_bootstrap_servers="127.0.0.1:9092",
        schema_registry_url="http://127.0.0.1:8081/apis/ccompat/v7",
        tables_uri="s3a://bucket/k2/tables",
        checkpoints_uri="s3a://bucket/k2/checkpoints",
    )
    return JobConfig(**{**base, **overrides})


def test_yaml_round_trip_is_lossless():
    config = make(
        spark_conf={"spark.hadoop.fs.s3a.endpoint": "http://minio:9000"}, trigger_interval="5 seconds"
    )
    assert JobConfig.from_dict(yaml.safe_load(config.to_yaml())) == config


def test_a_config_rendered_before_new_fields_still_loads():
    # What an older operator rendered: no metrics_bind_address. New fields must keep defaults.
    old = {k: v for k, v in dataclasses.asdict(make()).items() if k != "metrics_bind_address"}
    assert JobConfig.from_dict(old).metrics_bind_address == "0.0.0.0"


def test_unknown_keys_are_rejected():
    with pytest.raises(ValueError, match="unknown job config keys"):
        JobConfig.from_dict({**dataclasses.asdict(make()), "tables_url": "x"})


@pytest.mark.parametrize(("layer", "exchange"), [("gold", "binance"), ("silver", None), ("bronze", "ftx")])
def test_invalid_layer_exchange_pairs_fail(layer, exchange):
    with pytest.raises(ValueError):
        make(layer=layer, exchange=exchange)


def test_job_names_and_local_ports_follow_contracts(tmp_path):
    names = []
    for name, layer, exchange in JOBS:
        config = JobConfig.local_default(layer, exchange, kafka="k", registry="r", root=tmp_path)
        assert config.job_name == name
        assert config.metrics_port == LOCAL_METRICS_PORTS[name]
        assert config.metrics_bind_address == "127.0.0.1"
        assert config.tables_uri.startswith("file:///")
        assert config.checkpoint_uri.endswith(f"/checkpoints/{name}")
        names.append(config.job_name)
    assert tuple(names) == JOB_NAMES


def test_env_overrides_replace_fields_with_their_types():
    config = make().with_env_overrides(
        {
            "K2_KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
            "K2_MAX_OFFSETS_PER_TRIGGER": "123",
            "K2_METRICS_PORT": "9100",
        }
    )
    assert config.kafka_bootstrap_servers == "kafka:9092"
    assert config.max_offsets_per_trigger == 123
    assert config.metrics_port == 9100
    assert make().with_env_overrides({"K2_MAX_FILES_PER_TRIGGER": "5"}).max_files_per_trigger == 5
    assert make().with_env_overrides({}) == make()


def test_every_env_override_names_a_real_field():
    fields = {f.name for f in dataclasses.fields(JobConfig)}
    assert set(ENV_OVERRIDES.values()) <= fields
    assert all(variable.startswith("K2_") for variable in ENV_OVERRIDES)


def test_table_and_checkpoint_uris_join_cleanly():
    config = make(tables_uri="s3a://bucket/k2/tables/")
    assert config.table_uri("gold_trades") == "s3a://bucket/k2/tables/gold_trades"
    assert config.checkpoint_uri == "s3a://bucket/k2/checkpoints/silver-kraken"
    assert config.topic == "market.crypto.trades.kraken.raw"
