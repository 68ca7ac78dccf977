"""A Silver batch re-run after a crash between its Silver and its DLQ commit, through the production
foreachBatch writer (start_silver) and a real schema registry: the re-run, later by the clock and
after a schema id the batch holds got registered, writes exactly what one clean run writes."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.utils import StreamingQueryException

from spark_jobs.avro_schemas import load_schema, schema_json
from spark_jobs.contracts import DLQ_TABLE, bronze_table, silver_table
from spark_jobs.job_config import JobConfig
from spark_jobs.jobs import silver_job
from spark_jobs.local_infra.schema_registry import register_schema
from spark_jobs.metrics import JobMetrics
from spark_jobs.registry_client import registry_client
from spark_jobs.synthetic_trades import DEFAULT_START, CryptoDataFactory, encode_confluent
from spark_jobs.transforms.bronze import to_bronze
from spark_jobs.transforms.dlq import DlqErrorType
from tests.unit.kafka_rows import kafka_source_df

pytestmark = pytest.mark.integration

#: When Kafka received the batch: years before today, so a check against the clock would fail all.
KAFKA_TIME = DEFAULT_START + timedelta(hours=1)


def newer_writer(tag: str) -> dict[str, Any]:
    """A Binance writer version with one more optional field (a distinct schema, a new id)."""
    schema = load_schema("binance_raw_trade")
    schema["fields"].append({"name": f"note_{tag}", "type": ["null", "string"], "default": None})
    return schema


def bronze_values(binance_id: int, future_id: int, tag: str) -> tuple[list[bytes | None], dict[str, int]]:
    factory = CryptoDataFactory(seed=71, start_time=KAFKA_TIME - timedelta(minutes=30))
    schema = load_schema("binance_raw_trade")
    kafka_ms = int(KAFKA_TIME.timestamp() * 1000)
    valid = [
        factory.binance_raw_trade(base=("BTC", "ETH", "SOL")[i % 3], mean_gap_seconds=5) for i in range(12)
    ]
    valid += [
        factory.binance_raw_trade(trade_time_ms=kafka_ms - 7 * 86_400_000 + 1000),  # 1 s inside max age
        factory.binance_raw_trade(trade_time_ms=kafka_ms + 59_000),  # inside the 60 s tolerance
    ]
    values: list[bytes | None] = [encode_confluent(binance_id, schema, t) for t in valid]
    bad = factory.invalid_trade_records(binance_id, unknown_schema_id=999_999)
    values += [r.value for r in bad]
    values.append(
        encode_confluent(binance_id, schema, factory.binance_raw_trade(trade_time_ms=kafka_ms + 61_000))
    )
    writer = newer_writer(tag)
    values += [encode_confluent(future_id, writer, factory.binance_raw_trade()) for _ in range(3)]
    expected = {"silver": len(valid), "dlq": len(bad) + 1 + 3}
    return values, expected


def silver_config(registry_url: str, root: Path) -> JobConfig:
    return JobConfig(
        layer="silver",
        exchange="binance",
        kafka_bootstrap_servers="127.0.0.1:1",  # Silver reads Bronze's Delta table only
        schema_registry_url=registry_url,
        tables_uri=(root / "tables").as_uri(),
        checkpoints_uri=(root / "checkpoints").as_uri(),
        trigger_interval="availableNow",
    )


def write_bronze(spark: SparkSession, config: JobConfig, values: list[bytes | None]) -> None:
    kafka = kafka_source_df(spark, values, kafka_timestamp=KAFKA_TIME, partition=1)
    to_bronze(kafka, now=KAFKA_TIME).write.format("delta").save(config.table_uri(bronze_table("binance")))


def run_silver(spark: SparkSession, config: JobConfig) -> Exception | None:
    query = silver_job.start_silver(spark, config, JobMetrics(config.job_name, "silver", "binance"))
    try:
        query.awaitTermination(240)
    except StreamingQueryException as error:
        return error
    return query.exception()


def tables(spark: SparkSession, config: JobConfig) -> tuple[DataFrame, DataFrame]:
    read = spark.read.format("delta").load
    return read(config.table_uri(silver_table("binance"))), read(config.table_uri(DLQ_TABLE))


def comparable(silver: DataFrame, dlq: DataFrame) -> tuple[list[tuple], list[tuple]]:
    """Both tables without the batch's own time (two separate clean runs differ in that only)."""
    s = sorted(tuple(r) for r in silver.drop("validation_timestamp").collect())
    d = sorted(tuple(r) for r in dlq.drop("error_timestamp", "error_date").collect())
    return s, d


def test_a_batch_rerun_after_a_crash_between_its_commits_equals_one_clean_run(
    spark: SparkSession, schema_registry: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tag = uuid.uuid4().hex[:8]
    client = registry_client(schema_registry.url)
    subject = f"k2.test.rerun.{tag}-value"
    binance_id = register_schema(client, subject, schema_json("binance_raw_trade"))
    # The registry hands out ids in order: the next new schema gets the id after a throwaway one's.
    throwaway = register_schema(client, subject, json.dumps(newer_writer(f"x{tag}")))
    future_id = throwaway + 1
    values, expected = bronze_values(binance_id, future_id, tag)

    clean = silver_config(schema_registry.url, tmp_path / "clean")
    write_bronze(spark, clean, values)
    assert run_silver(spark, clean) is None
    clean_silver, clean_dlq = tables(spark, clean)
    assert (clean_silver.count(), clean_dlq.count()) == (expected["silver"], expected["dlq"])
    assert (
        clean_dlq.where(
            f"error_type = '{DlqErrorType.UNKNOWN_SCHEMA_ID}' AND schema_id = {future_id}"
        ).count()
        == 3
    )

    crashed = silver_config(schema_registry.url, tmp_path / "crashed")
    write_bronze(spark, crashed, values)
    real_append = silver_job.append_exactly_once
    dlq_uri = crashed.table_uri(DLQ_TABLE)

    def crash_before_the_dlq_commit(df: DataFrame, uri: str, *args: Any, **kwargs: Any) -> None:
        if uri == dlq_uri:
            raise RuntimeError("killed between the Silver and the DLQ commit")
        real_append(df, uri, *args, **kwargs)

    monkeypatch.setattr(silver_job, "append_exactly_once", crash_before_the_dlq_commit)
    error = run_silver(spark, crashed)
    assert error is not None and "killed between" in str(error)
    checkpoint = tmp_path / "crashed" / "checkpoints" / crashed.job_name
    assert (checkpoint / "offsets" / "0").exists() and not (checkpoint / "commits" / "0").exists()
    half_silver, half_dlq = tables(spark, crashed)
    assert (half_silver.count(), half_dlq.count()) == (expected["silver"], 0)
    first_validation = {r.validation_timestamp for r in half_silver.select("validation_timestamp").collect()}

    # Time passes and the unknown id gets registered before the re-run.
    time.sleep(2)
    assert register_schema(client, subject, json.dumps(newer_writer(tag))) == future_id
    monkeypatch.setattr(silver_job, "append_exactly_once", real_append)
    rerun_started = time.time()
    assert run_silver(spark, crashed) is None
    assert (checkpoint / "commits" / "0").exists()

    silver, dlq = tables(spark, crashed)
    assert comparable(silver, dlq) == comparable(clean_silver, clean_dlq)
    # The batch's time is the one its offset log recorded at the first attempt, not the re-run's.
    assert {r.error_timestamp for r in dlq.select("error_timestamp").collect()} == first_validation
    assert max(first_validation).timestamp() < rerun_started
