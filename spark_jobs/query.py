"""``k2 query "SQL"``: run SQL over the local pipeline's Delta tables, each registered as a view named
after its table (bronze_binance_trades, ..., gold_trades)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from spark_jobs.contracts import DLQ_TABLE, EXCHANGES, GOLD_TABLE, bronze_table, silver_table

TABLE_NAMES = (
    *(bronze_table(e) for e in EXCHANGES),
    *(silver_table(e) for e in EXCHANGES),
    DLQ_TABLE,
    GOLD_TABLE,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sql", help='e.g. "SELECT exchange, count(*) FROM gold_trades GROUP BY exchange"')
    parser.add_argument(
        "--data-dir", type=Path, default=Path(".k2/local"), help="the local run's data folder"
    )
    parser.add_argument("--limit", type=int, default=50, help="rows to print")


def run(args: argparse.Namespace) -> int:
    from spark_jobs.spark_session import build_spark_session

    tables_root = args.data_dir.resolve() / "tables"
    spark = build_spark_session("k2-query", extra_conf={"spark.ui.enabled": "false"})
    spark.sparkContext.setLogLevel("ERROR")
    try:
        for name in TABLE_NAMES:
            if (tables_root / name / "_delta_log").is_dir():
                spark.read.format("delta").load(str(tables_root / name)).createOrReplaceTempView(name)
        result = spark.sql(args.sql)
        table = Table(*result.columns)
        for row in result.limit(args.limit).collect():
            table.add_row(*(str(v) for v in row))
        Console().print(table)
    finally:
        spark.stop()
    return 0
