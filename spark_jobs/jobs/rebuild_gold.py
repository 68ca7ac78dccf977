"""``k2 rebuild-gold``: rewrite Gold from both Silver tables, keyed by today's message_id.

For an upgrade that changes the message_id rule (the symbol joined the id: trades of two symbols
sharing a trade id had collided and all but one were missing from Gold). Silver keeps every trade
that Kafka delivered, and every part of the id is a Silver column, so Gold can be recomputed exactly:
the batch Gold transform (the same code as the stream: ids recomputed, deduplicated over the whole
input, date and hour added), written over Gold as ONE Delta commit (readers see the old or the new
table, never a mix; time travel keeps the old version).

Stop the Gold job first (its MERGE would conflict with the overwrite); keep its checkpoint: when it
starts again it continues from the Silver versions it had read, and its insert-only MERGE skips the
trades the rebuild already wrote.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from spark_jobs.contracts import EXCHANGES, GOLD_TABLE, silver_table

if TYPE_CHECKING:  # Spark loads only when the command runs, so `k2 --help` stays fast
    from pyspark.sql import SparkSession


@dataclass(frozen=True)
class RebuildResult:
    silver_rows: int
    gold_rows_before: int
    gold_rows_after: int


def rebuild_gold(spark: SparkSession, tables_uri: str) -> RebuildResult:
    from spark_jobs.jobs.delta_io import ensure_table
    from spark_jobs.jobs.gold_job import GOLD_TABLE_PROPERTIES
    from spark_jobs.jobs.table_schemas import GOLD_PARTITION_COLUMNS, gold_schema, silver_schema
    from spark_jobs.transforms.gold import GOLD_COLUMNS, to_gold

    root = tables_uri.rstrip("/")
    gold_uri = f"{root}/{GOLD_TABLE}"
    for exchange in EXCHANGES:
        ensure_table(spark, f"{root}/{silver_table(exchange)}", silver_schema())
    ensure_table(spark, gold_uri, gold_schema(), GOLD_PARTITION_COLUMNS, GOLD_TABLE_PROPERTIES)
    binance, kraken = (spark.read.format("delta").load(f"{root}/{silver_table(e)}") for e in EXCHANGES)
    before = spark.read.format("delta").load(gold_uri).count()
    # The watermark argument only matters for streams; a batch deduplicates over all of Silver.
    gold = to_gold(binance, kraken, watermark="0 seconds").select(*GOLD_COLUMNS)
    (
        gold.write.format("delta")
        .mode("overwrite")
        .partitionBy(*GOLD_PARTITION_COLUMNS)
        .option("userMetadata", "k2 rebuild-gold")
        .save(gold_uri)
    )
    after = spark.read.format("delta").load(gold_uri).count()
    return RebuildResult(binance.count() + kraken.count(), before, after)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--data-dir", type=Path, default=Path(".k2/local"), help="the local run's data folder (default)"
    )
    where.add_argument("--tables-uri", help="the pipeline's tables URI, e.g. s3a://bucket/k2/tables")


def run(args: argparse.Namespace) -> int:
    from spark_jobs.spark_session import build_spark_session

    tables_uri = args.tables_uri or (args.data_dir.resolve() / "tables").as_uri()
    spark = build_spark_session("k2-rebuild-gold", extra_conf={"spark.ui.enabled": "false"})
    spark.sparkContext.setLogLevel("ERROR")
    result = rebuild_gold(spark, tables_uri)
    print(
        f"gold rebuilt from {result.silver_rows:,} silver rows: "
        f"{result.gold_rows_before:,} rows before, {result.gold_rows_after:,} after"
    )
    return 0
