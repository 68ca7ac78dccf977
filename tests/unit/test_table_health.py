"""Tables that stay healthy for weeks, on real Spark + Delta: small files compacted by the session
settings every job carries, VACUUM never below a safe retention, Gold's MERGE condition pruned to the
batch's time range with exact UTC literals, and the shuffle partitions a stateful checkpoint froze."""

from __future__ import annotations

import datetime as dt
from datetime import timedelta
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_jobs.contracts import DLQ_TABLE, GOLD_TABLE, silver_table
from spark_jobs.job_config import JobConfig
from spark_jobs.jobs.gold_job import BatchSpan, checkpoint_shuffle_partitions, merge_condition
from spark_jobs.jobs.table_maintenance import COMPACTION_CONF, VacuumSchedule, owned_tables, vacuum
from spark_jobs.spark_session import SMALL_MACHINE_CONF

pytestmark = pytest.mark.unit


def _config(tmp_path: Path, layer: str = "gold", exchange: str | None = None, **kw: object) -> JobConfig:
    return JobConfig(
        layer=layer, exchange=exchange, kafka_bootstrap_servers="k:9092", schema_registry_url="http://r",
        tables_uri=(tmp_path / "tables").as_uri(), checkpoints_uri=(tmp_path / "cp").as_uri(), **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def _files(spark: SparkSession, path: Path) -> int:
    return int(DeltaTable.forPath(spark, str(path)).detail().first()["numFiles"])


def test_the_jobs_session_settings_compact_small_files(spark: SparkSession, tmp_path: Path) -> None:
    path = tmp_path / "many_small_appends"
    saved = {
        key: spark.conf.get(key, None)
        for key in [*COMPACTION_CONF, "spark.databricks.delta.autoCompact.minNumFiles"]
    }
    try:
        for key in COMPACTION_CONF:
            spark.conf.set(key, "false")
        for n in range(6):
            spark.range(n * 10, n * 10 + 10).write.format("delta").mode("append").save(str(path))
        uncompacted = _files(spark, path)
        for key, value in COMPACTION_CONF.items():
            spark.conf.set(key, value)
        spark.conf.set("spark.databricks.delta.autoCompact.minNumFiles", "4")  # default 50: keep it small
        spark.range(60, 70).write.format("delta").mode("append").save(str(path))
        compacted = _files(spark, path)
    finally:
        for key, value in saved.items():
            spark.conf.unset(key) if value is None else spark.conf.set(key, value)
    assert uncompacted >= 6
    assert compacted < uncompacted
    assert spark.read.format("delta").load(str(path)).count() == 70  # nothing lost by the rewrite


def test_vacuum_refuses_a_retention_below_seven_days_and_keeps_what_readers_need(
    spark: SparkSession, tmp_path: Path
) -> None:
    path = str(tmp_path / "t")
    spark.range(5).write.format("delta").save(path)
    spark.range(5, 9).write.format("delta").mode("overwrite").save(path)  # the first file is now unreferenced
    with pytest.raises(ValueError, match="below 7 days"):
        vacuum(spark, path, timedelta(hours=1))
    vacuum(spark, path, timedelta(days=7))
    assert spark.read.format("delta").option("versionAsOf", 0).load(path).count() == 5  # still readable
    with pytest.raises(ValueError, match="vacuum_retention_hours must be >= 168"):
        _config(tmp_path, vacuum_retention_hours=24)


def test_each_table_is_vacuumed_by_the_one_job_that_writes_it(spark: SparkSession, tmp_path: Path) -> None:
    assert owned_tables(_config(tmp_path)) == (GOLD_TABLE,)
    assert owned_tables(_config(tmp_path, "silver", "binance")) == (silver_table("binance"), DLQ_TABLE)
    assert owned_tables(_config(tmp_path, "silver", "kraken")) == (silver_table("kraken"),)
    calls: list[tuple[str, timedelta]] = []
    schedule = VacuumSchedule(spark, _config(tmp_path), run=lambda _s, uri, keep: calls.append((uri, keep)))
    schedule.run_once()
    assert calls == [(_config(tmp_path).table_uri(GOLD_TABLE), timedelta(hours=168))]


def test_gold_merge_condition_prunes_to_the_batch_time_range_in_exact_utc(spark: SparkSession) -> None:
    earliest = int(dt.datetime(2026, 1, 5, 13, 59, 59, 999_999, tzinfo=dt.UTC).timestamp() * 1_000_000)
    span = BatchSpan([(dt.date(2026, 1, 5), 13)], earliest, earliest + 5_000_001)
    condition = merge_condition(span)
    assert condition.startswith("t.message_id = s.message_id AND ((t.exchange_date = DATE'2026-01-05'")
    lower, upper = (part.split(" ", 2)[2] for part in condition.split(" AND t.timestamp")[1:])
    # the literals name the very microseconds, whatever the session's or the process's time zone
    spark.conf.set("spark.sql.session.timeZone", "America/New_York")
    try:
        got = spark.sql(f"SELECT unix_micros({lower}) AS lo, unix_micros({upper}) AS hi").first()
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")
    assert (got["lo"], got["hi"]) == (earliest, earliest + 5_000_001)
    assert "t.timestamp" not in merge_condition(span, prune_by_event_time=False)


def test_a_stateful_checkpoint_keeps_its_shuffle_partitions(spark: SparkSession, tmp_path: Path) -> None:
    source, checkpoint = tmp_path / "in", tmp_path / "checkpoint"
    spark.range(10).withColumn("k", F.col("id") % 3).write.json(str(source))
    schema = spark.read.json(str(source)).schema

    def run() -> None:
        counts = spark.readStream.schema(schema).json(str(source)).groupBy("k").count()
        query = (
            counts.writeStream.format("noop").outputMode("complete")
            .option("checkpointLocation", checkpoint.as_uri()).trigger(availableNow=True).start()
        )  # fmt: skip
        query.awaitTermination(120)

    assert checkpoint_shuffle_partitions(spark, checkpoint.as_uri()) is None
    spark.conf.set("spark.sql.shuffle.partitions", "3")
    try:
        run()
        spark.conf.set("spark.sql.shuffle.partitions", "5")  # a new plan, e.g. a larger core budget
        spark.range(10, 20).withColumn("k", F.col("id") % 3).write.mode("append").json(str(source))
        run()
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", SMALL_MACHINE_CONF["spark.sql.shuffle.partitions"])
    assert checkpoint_shuffle_partitions(spark, checkpoint.as_uri()) == 3
