#!/usr/bin/env python3
"""Gold MERGE cost through one hour: early vs late, as a ratio (not part of the test run).

Simulates one hour of Gold micro-batches (default 60 batches, one per event-time minute, 2,000 trades
each) into a fresh Gold table with the production writer (GoldBatchWriter: insert-only MERGE, Delta's
auto compaction on, as every job's session has it), and times each MERGE.
Three variants in one run, same data:

  pruned       the production MERGE: the batch's partitions AND its event-time range
  hour-only    the baseline: the batch's (exchange_date, exchange_hour) partitions only
  no-compact   the production MERGE without auto compaction (file counts)

Reports, per variant, the mean MERGE time of the first batches ("early", after the first, which warms
the JVM up) and of as many last ones ("late"; five each, fewer below 20 batches),
late / early; the files the MERGE's target side reads after Delta's partition pruning and data
skipping (early / late: a count, so load on the machine cannot blur it); the hour's data files at the
end, and after an OPTIMIZE.

    .venv/bin/python hack/bench-merge.py [--batches 60] [--rows 2000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs.contracts import GOLD_TABLE
from spark_jobs.job_config import JobConfig
from spark_jobs.jobs.delta_io import ensure_table
from spark_jobs.jobs.gold_job import GOLD_TABLE_PROPERTIES, GoldBatchWriter, batch_span, merge_condition
from spark_jobs.jobs.table_maintenance import COMPACTION_CONF
from spark_jobs.jobs.table_schemas import GOLD_PARTITION_COLUMNS, gold_schema
from spark_jobs.metrics import JobMetrics
from spark_jobs.spark_session import build_spark_session
from spark_jobs.transforms.gold import GOLD_SCHEMA

HOUR_START = datetime(2026, 1, 5, 13, 0, tzinfo=UTC)


def batch(spark: SparkSession, number: int, rows: int, seconds_per_batch: float) -> DataFrame:
    """`rows` distinct trades spread over batch `number`'s slice of the hour, in Gold's shape."""
    start_micros = int(HOUR_START.timestamp() * 1_000_000 + number * seconds_per_batch * 1_000_000)
    step = int(seconds_per_batch * 1_000_000 / rows)
    trade = F.col("id") + number * rows
    micros = F.lit(start_micros) + F.col("id") * step
    values = {
        "message_id": F.concat(F.lit("binance-BTC/USDT-20260105-"), trade.cast("string")),
        "exchange": F.lit("binance"),
        "symbol": F.lit("BTC/USDT"),
        "base_currency": F.lit("Bitcoin"),
        "quote_currency": F.lit("Tether"),
        "price": F.expr("CAST('64000.1234567890' AS DECIMAL(18,10)) + id % 100"),
        "quantity": F.lit("0.01234567"),
        "trade_value_usd": F.lit("790.123456789012345678"),
        "timestamp": F.timestamp_micros(micros),
        "side": F.when(F.col("id") % 2 == 0, F.lit("buy")).otherwise(F.lit("sell")),
        "trade_id": trade.cast("string"),
        "is_market_maker": F.col("id") % 2 == 1,
        "ingestion_timestamp": F.timestamp_micros(micros + 50_000),
        "validation_timestamp": F.timestamp_micros(micros + 900_000),
        "schema_id": F.lit(1),
        "exchange_date": F.to_date(F.timestamp_micros(micros)),
        "exchange_hour": F.hour(F.timestamp_micros(micros)),
    }
    return spark.range(rows).select(
        *[values[f.name].cast(f.dataType).alias(f.name) for f in GOLD_SCHEMA.fields]
    )


def data_files(spark: SparkSession, uri: str, where: str | None = None) -> int:
    files = spark.read.format("delta").load(uri)
    if where:
        files = files.where(where)
    return files.select(F.input_file_name()).distinct().count()


def files_read(spark: SparkSession, uri: str, frame: DataFrame) -> tuple[int, int]:
    """Target files left after Delta's pruning and skipping with the MERGE's target-only predicates:
    (with the event-time range, with the hour's partition only)."""
    span = batch_span(frame)
    assert span is not None
    counts = []
    for pruned in (True, False):
        target_only = merge_condition(span, prune_by_event_time=pruned).split(" AND ", 1)[1].replace("t.", "")
        counts.append(len(spark.read.format("delta").load(uri).where(target_only).inputFiles()))
    return counts[0], counts[1]


def run_variant(spark: SparkSession, root: Path, name: str, batches: int, rows: int) -> dict[str, float]:
    pruned = name != "hour-only"
    compaction = name != "no-compact"
    for key, value in COMPACTION_CONF.items():
        spark.conf.set(key, value if compaction else "false")
    config = JobConfig(
        layer="gold", exchange=None, kafka_bootstrap_servers="unused:9092", schema_registry_url="http://unused",
        tables_uri=(root / name / "tables").as_uri(), checkpoints_uri=(root / name / "checkpoints").as_uri(),
    )  # fmt: skip
    uri = config.table_uri(GOLD_TABLE)
    ensure_table(spark, uri, gold_schema(), GOLD_PARTITION_COLUMNS, GOLD_TABLE_PROPERTIES)
    writer = GoldBatchWriter(spark, config, JobMetrics(f"bench-{name}", "gold", None))
    writer.prune_by_event_time = pruned
    seconds, read = [], []
    for number in range(batches):
        frame = batch(spark, number, rows, 3600 / batches)
        with_range, hour_only = files_read(spark, uri, frame)
        read.append(with_range if pruned else hour_only)
        started = time.monotonic()
        writer(frame, number)
        seconds.append(time.monotonic() - started)
        print(
            f"  {name} batch {number:3d}: {seconds[-1]:.2f} s; target files read: {read[-1]} "
            f"(with the time range {with_range}, hour only {hour_only})",
            flush=True,
        )
    hour = "exchange_date = DATE'2026-01-05' AND exchange_hour = 13"
    files_before = data_files(spark, uri, hour)
    DeltaTable.forPath(spark, uri).optimize().where(hour).executeCompaction()
    files_after = data_files(spark, uri, hour)
    rows_in_gold = spark.read.format("delta").load(uri).count()
    assert rows_in_gold == batches * rows, f"{name}: Gold has {rows_in_gold} rows, expected {batches * rows}"
    window = max(1, min(5, batches // 4))  # the first batch (JVM warm-up) is left out
    early, late = statistics.mean(seconds[1 : 1 + window]), statistics.mean(seconds[-window:])
    return {
        "early": early,
        "late": late,
        "ratio": late / early,
        "read_early": statistics.mean(read[1 : 1 + window]),
        "read_late": statistics.mean(read[-window:]),
        "files": files_before,
        "optimized": files_after,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--variants", default="pruned,hour-only,no-compact")
    args = parser.parse_args()
    spark = build_spark_session("k2-bench-merge", driver_memory="2g")
    spark.sparkContext.setLogLevel("ERROR")
    results = {}
    with tempfile.TemporaryDirectory(prefix="k2-bench-merge-") as work:
        for name in args.variants.split(","):
            results[name] = run_variant(spark, Path(work), name, args.batches, args.rows)
    spark.stop()
    print(f"\nGold MERGE through one hour: {args.batches} batches x {args.rows} trades")
    print(
        f"{'variant':<12} {'early s':>8} {'late s':>8} {'late/early':>10} {'files read early/late':>22} "
        f"{'hour files':>10} {'after OPTIMIZE':>15}"
    )
    for name, r in results.items():
        print(
            f"{name:<12} {r['early']:8.2f} {r['late']:8.2f} {r['ratio']:10.2f} "
            f"{r['read_early']:10.1f} / {r['read_late']:<9.1f} "
            f"{int(r['files']):10d} {int(r['optimized']):15d}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
