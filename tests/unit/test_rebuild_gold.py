"""`k2 rebuild-gold`: Gold rewritten from Silver with today's message_id, as after the upgrade that put
the symbol into the id (the old Gold had lost every trade whose id another symbol also used that day)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from spark_jobs.cli import main as k2_main
from spark_jobs.contracts import EXCHANGES, GOLD_TABLE, silver_table
from spark_jobs.jobs.delta_io import ensure_table
from spark_jobs.jobs.gold_job import GOLD_TABLE_PROPERTIES
from spark_jobs.jobs.table_schemas import GOLD_PARTITION_COLUMNS, gold_schema
from spark_jobs.normalization import utc_yyyymmdd
from spark_jobs.synthetic_trades import CryptoDataFactory
from spark_jobs.transforms.gold import GOLD_COLUMNS
from spark_jobs.transforms.silver import V2_COLUMNS, V2_SCHEMA

pytestmark = pytest.mark.unit

BASES = ("BTC", "ETH", "SOL")


def old_message_id(trade: dict) -> str:
    """The rule before the upgrade: {exchange}-{date}-{trade id}, no symbol."""
    micros = int(trade["timestamp"].timestamp() * 1_000_000)
    return f"{trade['exchange']}-{utc_yyyymmdd(micros)}-{trade['trade_id']}"


def silver_trades(exchange: str, per_symbol: int) -> list[dict]:
    """V2 trades of three symbols whose per-symbol ids overlap (as the exchanges number them), as
    a Silver written before the upgrade holds them: old-format message_ids."""
    factory = CryptoDataFactory(seed=61)
    trades = [
        factory.v2_unified_trade(exchange=exchange, base=BASES[i % len(BASES)])
        for i in range(per_symbol * len(BASES))
    ]
    return [dict(t, message_id=old_message_id(t)) for t in trades]


def test_rebuild_gold_keeps_every_trade_of_every_symbol(spark: SparkSession, tmp_path, capsys):
    tables = tmp_path / "tables"
    tables_uri = tables.as_uri()
    silver = {e: silver_trades(e, per_symbol=8) for e in EXCHANGES}
    for exchange, trades in silver.items():
        rows = [tuple(t[c] for c in V2_COLUMNS) for t in trades + trades[:3]]  # with resends
        spark.createDataFrame(rows, V2_SCHEMA).write.format("delta").save(
            str(tables / silver_table(exchange))
        )

    # The old Gold: keyed by the old id, so only one trade per (exchange, day, id) survived.
    gold_uri = f"{tables_uri}/{GOLD_TABLE}"
    ensure_table(spark, gold_uri, gold_schema(), GOLD_PARTITION_COLUMNS, GOLD_TABLE_PROPERTIES)
    old = spark.createDataFrame(
        [tuple(t[c] for c in V2_COLUMNS) for e in EXCHANGES for t in silver[e]], V2_SCHEMA
    )
    old = old.dropDuplicates(["message_id"]).withColumns(
        {"exchange_date": F.to_date("timestamp"), "exchange_hour": F.hour("timestamp")}
    )
    old.select(*GOLD_COLUMNS).write.format("delta").mode("append").save(gold_uri)
    distinct_trades = sum(len({(t["symbol"], t["trade_id"]) for t in silver[e]}) for e in EXCHANGES)
    old_rows = spark.read.format("delta").load(gold_uri).count()
    assert old_rows < distinct_trades, "the test data must reproduce the collision"

    assert k2_main(["rebuild-gold", "--tables-uri", tables_uri]) == 0

    gold = spark.read.format("delta").load(gold_uri)
    rows = gold.collect()
    assert len(rows) == distinct_trades == len({r.message_id for r in rows})
    assert {(r.exchange, r.symbol, r.trade_id) for r in rows} == {
        (t["exchange"], t["symbol"], t["trade_id"]) for e in EXCHANGES for t in silver[e]
    }
    distinct = {(t["exchange"], t["symbol"], t["trade_id"]): t for e in EXCHANGES for t in silver[e]}
    expected_usd = sum((t["trade_value_usd"] for t in distinct.values()), Decimal(0))
    assert sum((r.trade_value_usd for r in rows), Decimal(0)) == expected_usd
    assert all(r.message_id.startswith(f"{r.exchange}-{r.symbol}-") for r in rows)
    detail = spark.sql(f"DESCRIBE DETAIL delta.`{tables / GOLD_TABLE}`").first()
    assert detail is not None and list(detail.partitionColumns) == list(GOLD_PARTITION_COLUMNS)
    assert f"{old_rows:,} rows before, {distinct_trades:,} after" in capsys.readouterr().out
