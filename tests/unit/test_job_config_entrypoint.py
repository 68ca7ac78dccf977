"""The job entrypoint's argument and config handling, and the small pure helpers of the jobs package
(no Spark session, no services)."""

from __future__ import annotations

import datetime as dt

import pytest

from spark_jobs.job_config import JobConfig
from spark_jobs.jobs.__main__ import load_config, parse_args
from spark_jobs.jobs.delta_io import hadoop_form
from spark_jobs.jobs.gold_job import partition_predicate
from spark_jobs.jobs.query_identity import QueryIdLatch
from spark_jobs.jobs.stream_options import delta_source_options, kafka_source_options
from spark_jobs.local.bad_records import UNKNOWN_SCHEMA_ID, bad_records
from spark_jobs.local.sources import resolve_source
from spark_jobs.transforms.dlq import DLQ_ERROR_TYPES

pytestmark = pytest.mark.unit


def write_config(tmp_path, **fields) -> str:
    config = JobConfig(
        layer=fields.pop("layer", "silver"),
        exchange=fields.pop("exchange", "binance"),
        kafka_bootstrap_servers="127.0.0.1:9092",
        schema_registry_url="http://127.0.0.1:8081/apis/ccompat/v7",
        tables_uri="file:///tmp/k2/tables",
        checkpoints_uri="file:///tmp/k2/checkpoints",
        **fields,
    )
    path = tmp_path / "job.yaml"
    path.write_text(config.to_yaml())
    return str(path)


def test_entrypoint_loads_the_config_the_operator_renders(tmp_path, monkeypatch):
    monkeypatch.setenv("K2_TRIGGER_INTERVAL", "30 seconds")
    args = parse_args(["--job", "silver", "--exchange", "binance", "--config", write_config(tmp_path)])
    config = load_config(args)
    assert config.job_name == "silver-binance"
    assert config.trigger_interval == "30 seconds"  # the environment overrides the file


def test_entrypoint_refuses_a_config_for_another_job(tmp_path):
    args = parse_args(["--job", "silver", "--exchange", "kraken", "--config", write_config(tmp_path)])
    with pytest.raises(SystemExit, match="does not match"):
        load_config(args)


def test_entrypoint_rejects_unknown_layers():
    with pytest.raises(SystemExit):
        parse_args(["--job", "platinum", "--config", "x.yaml"])


def test_kafka_options_bound_batches_and_take_sasl_from_the_environment(tmp_path, monkeypatch):
    config = JobConfig.from_yaml_file(write_config(tmp_path, layer="bronze", max_offsets_per_trigger=123))
    options = kafka_source_options(config)
    assert options["maxOffsetsPerTrigger"] == "123"
    # the raw topic and its rejected-frames topic (frames the feed could not parse reach the DLQ too)
    assert (
        options["subscribe"] == "market.crypto.trades.binance.raw,market.crypto.trades.binance.raw.rejected"
    )
    assert "kafka.sasl.jaas.config" not in options
    monkeypatch.setenv("K2_KAFKA_SASL_USERNAME", "k2")
    monkeypatch.setenv("K2_KAFKA_SASL_PASSWORD", "secret")
    options = kafka_source_options(config)
    assert options["kafka.security.protocol"] == "SASL_SSL"
    assert 'username="k2" password="secret"' in options["kafka.sasl.jaas.config"]


def test_delta_source_options_only_when_bounded(tmp_path):
    assert delta_source_options(JobConfig.from_yaml_file(write_config(tmp_path))) == {}
    bounded = JobConfig.from_yaml_file(write_config(tmp_path, max_files_per_trigger=3))
    assert delta_source_options(bounded) == {"maxFilesPerTrigger": "3"}


def test_file_uris_take_the_form_delta_compares_against():
    assert hadoop_form("file:///tmp/k2/tables/gold") == "file:/tmp/k2/tables/gold"
    assert hadoop_form("s3a://bucket/k2/gold") == "s3a://bucket/k2/gold"


def test_gold_merge_prunes_to_literal_partitions():
    predicate = partition_predicate([(dt.date(2026, 11, 26), 13), (dt.date(2026, 11, 26), 14)])
    assert predicate == (
        "(t.exchange_date = DATE'2026-11-26' AND t.exchange_hour = 13) OR "
        "(t.exchange_date = DATE'2026-11-26' AND t.exchange_hour = 14)"
    )


def test_the_txn_app_id_waits_for_the_query_id():
    latch = QueryIdLatch("silver-kraken")
    with pytest.raises(RuntimeError, match="query id not set"):
        latch.app_id(timeout_seconds=0.01)
    latch.set("0b1c")
    assert latch.app_id() == "silver-kraken-0b1c"


def test_injected_bad_records_cover_known_error_types_with_an_unregistered_id():
    records = bad_records(binance_schema_id=1)
    assert len(records) == 8
    assert {str(r.expected_error) for r in records} <= set(DLQ_ERROR_TYPES)
    unknown = [r for r in records if str(r.expected_error) == "unknown_schema_id"]
    assert unknown and unknown[0].value is not None
    assert int.from_bytes(unknown[0].value[1:5], "big") == UNKNOWN_SCHEMA_ID


def test_an_explicit_source_is_used_without_probing():
    assert resolve_source("replay", "synthetic") == ("replay", "chosen with --source")
