"""Gold on real Spark: union of both Silver tables, exact deduplication on message_id, UTC date/hour;
and as the production streaming job (start_gold: Delta sources, availableNow, the MERGE writer) for
the watermarks: one per exchange, so a lagging exchange loses nothing; replays dropped; late rows
dropped; deduplication state evicted once both exchanges' watermarks pass."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F

from spark_jobs.contracts import GOLD_TABLE, silver_table
from spark_jobs.job_config import JobConfig
from spark_jobs.jobs.gold_job import start_gold
from spark_jobs.metrics import JobMetrics
from spark_jobs.normalization import micros_from_datetime
from spark_jobs.synthetic_trades import DEFAULT_START, CryptoDataFactory
from spark_jobs.transforms.gold import GOLD_COLUMNS, GOLD_SCHEMA, to_gold
from spark_jobs.transforms.silver import V2_COLUMNS, V2_SCHEMA

pytestmark = pytest.mark.unit

WATERMARK = "10 minutes"


def v2_df(spark: SparkSession, trades: list[dict]) -> DataFrame:
    return spark.createDataFrame([tuple(t[c] for c in V2_COLUMNS) for t in trades], V2_SCHEMA)


def with_date_hour(trade: dict[str, Any]) -> tuple:
    ts = trade["timestamp"].astimezone(UTC)
    return (*(trade[c] for c in V2_COLUMNS), ts.date(), ts.hour)


# --- batch ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchGold:
    binance: list[dict]
    kraken: list[dict]
    expected: list[dict]  # the distinct trades Gold must hold
    gold_df: DataFrame
    rows: list[Row]

    def by_id(self, message_id: str) -> list[Row]:
        return [r for r in self.rows if r.message_id == message_id]


MIDNIGHT = datetime(2024, 6, 4, tzinfo=UTC)


@pytest.fixture(scope="module")
def batch_gold(spark) -> BatchGold:
    factory = CryptoDataFactory(seed=5)
    mixed = factory.v2_mixed_trades(25)
    binance = [t for t in mixed if t["exchange"] == "binance"]
    kraken = [t for t in mixed if t["exchange"] == "kraken"]
    before_midnight = factory.v2_unified_trade(timestamp=MIDNIGHT - timedelta(microseconds=1))
    at_midnight = factory.v2_unified_trade(timestamp=MIDNIGHT)
    replay = dict(binance[3], validation_timestamp=binance[3]["validation_timestamp"] + timedelta(minutes=5))
    # The same exchange trade id on Kraken: a different trade (message_id carries the exchange).
    shared_id = binance[0]["trade_id"]
    kraken_same_id = dict(
        kraken[0], trade_id=shared_id, message_id=f"kraken-{kraken[0]['symbol']}-20240603-{shared_id}"
    )
    kraken = [kraken_same_id, *kraken[1:]]
    binance_in = [*binance, before_midnight, at_midnight, replay, binance[7]]
    expected = [*binance, before_midnight, at_midnight, *kraken]
    # Kraken's Silver with its columns in another order and one extra column: union is by name.
    kraken_df = v2_df(spark, kraken).select(*reversed(V2_COLUMNS)).withColumn("extra", F.lit(1))
    gold_df = to_gold(v2_df(spark, binance_in), kraken_df, WATERMARK)
    return BatchGold(binance_in, kraken, expected, gold_df, gold_df.collect())


def test_gold_has_the_v2_fields_then_date_and_hour(batch_gold):
    assert batch_gold.gold_df.columns == [*V2_COLUMNS, "exchange_date", "exchange_hour"]
    assert [f.dataType for f in batch_gold.gold_df.schema.fields] == [f.dataType for f in GOLD_SCHEMA.fields]


def test_gold_is_the_deduplicated_union_of_both_exchanges(spark, batch_gold):
    expected = spark.createDataFrame([with_date_hour(t) for t in batch_gold.expected], GOLD_SCHEMA)
    assert_df_equality(batch_gold.gold_df, expected, ignore_row_order=True, ignore_nullable=True)


def test_union_has_both_exchanges(batch_gold):
    counts = {ex: sum(r.exchange == ex for r in batch_gold.rows) for ex in ("binance", "kraken")}
    assert counts == {"binance": 27, "kraken": 25}


def test_a_replayed_trade_appears_once(batch_gold):
    replayed = batch_gold.binance[3]["message_id"]
    assert len(batch_gold.by_id(replayed)) == 1
    assert len(batch_gold.by_id(batch_gold.binance[7]["message_id"])) == 1
    assert len(batch_gold.rows) == len({r.message_id for r in batch_gold.rows}) == 52


def test_same_trade_id_on_two_exchanges_is_two_trades(batch_gold):
    shared = batch_gold.binance[0]["trade_id"]
    assert sorted(r.exchange for r in batch_gold.rows if r.trade_id == shared) == ["binance", "kraken"]


def test_date_and_hour_are_utc_around_midnight(batch_gold):
    last_of_day = batch_gold.by_id(batch_gold.binance[25]["message_id"])[0]
    first_of_day = batch_gold.by_id(batch_gold.binance[26]["message_id"])[0]
    assert (last_of_day.exchange_date, last_of_day.exchange_hour) == (MIDNIGHT.date() - timedelta(days=1), 23)
    assert (first_of_day.exchange_date, first_of_day.exchange_hour) == (MIDNIGHT.date(), 0)


def test_date_and_hour_match_the_message_id_date(batch_gold):
    for row in batch_gold.rows:
        assert row.message_id.split("-")[2] == row.exchange_date.strftime("%Y%m%d")
        assert row.exchange_hour == row.timestamp.astimezone(UTC).hour


def test_two_symbols_sharing_a_trade_id_on_one_day_are_two_trades_on_each_exchange(spark):
    """Binance numbers trades per symbol and Kraken per book: the same id on BTC and ETH the same
    day is two trades, and Gold keeps both (the id carries the symbol)."""
    factory = CryptoDataFactory(seed=31)
    trades = {
        exchange: [factory.v2_unified_trade(exchange=exchange) for _ in range(3)]
        for exchange in ("binance", "kraken")
    }
    for exchange, (btc, eth, sol) in trades.items():
        for other, symbol in ((eth, "ETH/USDT" if exchange == "binance" else "ETH/USD"), (sol, "SOL/USDT")):
            other.update(
                symbol=symbol, trade_id=btc["trade_id"], timestamp=btc["timestamp"] + timedelta(seconds=1)
            )
    gold = to_gold(v2_df(spark, trades["binance"]), v2_df(spark, trades["kraken"]), WATERMARK).collect()
    assert len(gold) == 6
    for exchange in ("binance", "kraken"):
        assert len({(r.symbol, r.trade_id) for r in gold if r.exchange == exchange}) == 3
        assert len({r.trade_id for r in gold if r.exchange == exchange}) == 1


def test_a_resent_kraken_snapshot_adds_nothing(spark):
    """A Kraken reconnect resends the book's recent trades in its snapshot: same ids, so Gold keeps
    each once, even when the resend was validated later."""
    factory = CryptoDataFactory(seed=32)
    recent = [factory.v2_unified_trade(exchange="kraken") for _ in range(10)]
    resent = [dict(t, validation_timestamp=t["validation_timestamp"] + timedelta(minutes=3)) for t in recent]
    empty = spark.createDataFrame([], V2_SCHEMA)
    gold = to_gold(empty, v2_df(spark, [*recent, *resent]), WATERMARK).collect()
    assert sorted(r.message_id for r in gold) == sorted(t["message_id"] for t in recent)


def test_gold_recomputes_an_old_format_message_id(spark):
    """A Silver row written before the id carried the symbol gets today's id in Gold."""
    trade = CryptoDataFactory(seed=33).v2_unified_trade(exchange="binance")
    old_format = dict(trade, message_id=f"binance-20240603-{trade['trade_id']}")
    empty = spark.createDataFrame([], V2_SCHEMA)
    rows = to_gold(v2_df(spark, [old_format]), empty, WATERMARK).collect()
    assert [r.message_id for r in rows] == [trade["message_id"]]


def test_date_and_hour_do_not_depend_on_the_session_time_zone(spark):
    trade = CryptoDataFactory(seed=9).v2_unified_trade(timestamp=MIDNIGHT - timedelta(minutes=30))
    df = v2_df(spark, [trade])
    previous = spark.conf.get("spark.sql.session.timeZone")
    try:
        spark.conf.set("spark.sql.session.timeZone", "Asia/Kolkata")  # +05:30: local hour 5, next day
        row = to_gold(df, df.limit(0), WATERMARK).first()
    finally:
        spark.conf.set("spark.sql.session.timeZone", previous)
    assert (row.exchange_date, row.exchange_hour) == (MIDNIGHT.date() - timedelta(days=1), 23)


def test_empty_inputs_give_an_empty_gold(spark):
    empty = spark.createDataFrame([], V2_SCHEMA)
    gold = to_gold(empty, empty, WATERMARK)
    assert gold.columns == list(GOLD_COLUMNS)
    assert gold.count() == 0


# --- streaming: the production Gold job and its watermarks --------------------------------------


@dataclass(frozen=True)
class StreamingGold:
    start: datetime
    message_ids_after: list[set[str]]  # Gold's ids after each run
    progress: list[list[dict]]  # recentProgress of each run
    lagging: list[dict]  # Kraken's rows that arrived after Binance had moved an hour ahead
    late: dict
    replay: dict
    gold_rows: list[Row]
    expected: list[dict]


def _run_gold(spark: SparkSession, config: JobConfig) -> tuple[set[str], list[dict]]:
    """One availableNow run of the production Gold job (its MERGE writer) from its checkpoint."""
    query = start_gold(spark, config, JobMetrics(config.job_name, "gold", None))
    query.awaitTermination(240)
    assert query.exception() is None
    gold = spark.read.format("delta").load(config.table_uri(GOLD_TABLE))
    return {r.message_id for r in gold.select("message_id").collect()}, list(query.recentProgress)


@pytest.fixture(scope="module")
def streaming_gold(spark, tmp_path_factory) -> StreamingGold:
    """Both exchanges trade at `start`; then Kraken's Silver stops while Binance's moves an hour on
    (far past the 10-minute watermark); then Kraken resumes with the trades it had held back, plus
    one older than its own watermark, and Binance replays a trade."""
    root = tmp_path_factory.mktemp("gold_stream")
    config = JobConfig(
        layer="gold",
        exchange=None,
        kafka_bootstrap_servers="127.0.0.1:1",  # Gold reads Delta only
        schema_registry_url="http://127.0.0.1:1",
        tables_uri=(root / "tables").as_uri(),
        checkpoints_uri=(root / "checkpoints").as_uri(),
        trigger_interval="availableNow",
        gold_watermark=WATERMARK,
    )
    factory = CryptoDataFactory(seed=21)
    start = DEFAULT_START
    binance = [factory.v2_unified_trade(exchange="binance") for _ in range(4)]
    kraken = [factory.v2_unified_trade(exchange="kraken") for _ in range(4)]

    def append(exchange: str, trades: list[dict]) -> None:
        v2_df(spark, trades).write.format("delta").mode("append").save(
            config.table_uri(silver_table(exchange))
        )

    append("binance", [*binance, binance[0]])  # a duplicate inside the first batch
    append("kraken", kraken)
    ids, progress = [], []
    for step in range(3):
        if step == 1:  # Kraken's Silver is stopped; Binance moves an hour on
            hour_later = factory.v2_unified_trade(exchange="binance", timestamp=start + timedelta(hours=1))
            append("binance", [hour_later])
        if step == 2:  # Kraken resumes: its backlog, one row behind its own watermark, and fresh trades
            lagging = [
                factory.v2_unified_trade(exchange="kraken", timestamp=start + timedelta(minutes=m))
                for m in (5, 20, 40, 58)
            ]
            late = factory.v2_unified_trade(exchange="kraken", timestamp=start - timedelta(minutes=30))
            replay = dict(
                hour_later, validation_timestamp=hour_later["validation_timestamp"] + timedelta(minutes=2)
            )
            append("kraken", [*lagging, late])
            append("binance", [replay])
        run_ids, run_progress = _run_gold(spark, config)
        ids.append(run_ids)
        progress.append(run_progress)
    gold_rows = spark.read.format("delta").load(config.table_uri(GOLD_TABLE)).collect()
    expected = [*binance, *kraken, hour_later, *lagging]
    return StreamingGold(start, ids, progress, lagging, late, replay, gold_rows, expected)


def test_streaming_gold_deduplicates_inside_a_batch(streaming_gold):
    first_batch = streaming_gold.progress[0][0]
    assert first_batch["numInputRows"] == 9
    assert len(streaming_gold.message_ids_after[0]) == 8


def test_a_lagging_exchange_loses_nothing(streaming_gold):
    """Kraken stopped for an hour (six watermark delays) while Binance went on: every Kraken trade
    that arrives on resuming reaches Gold, because its own watermark, not Binance's, judges it."""
    lagging_ids = {t["message_id"] for t in streaming_gold.lagging}
    assert lagging_ids <= streaming_gold.message_ids_after[2]


def test_the_global_watermark_follows_the_slower_exchange(streaming_gold):
    watermarks = [p["eventTime"].get("watermark") for run in streaming_gold.progress for p in run]
    binance_alone = (streaming_gold.start + timedelta(minutes=50)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert (
        binance_alone not in watermarks[: len(streaming_gold.progress[0]) + len(streaming_gold.progress[1])]
    )
    # once Kraken caught up to start + 58 min, the minimum of both moves to Kraken's: start + 48 min
    kraken_caught_up = (streaming_gold.start + timedelta(minutes=48)).strftime("%Y-%m-%dT%H:%M:%S")
    assert any(w and w.startswith(kraken_caught_up) for w in watermarks)


def test_a_row_older_than_its_exchanges_watermark_is_dropped(streaming_gold):
    assert streaming_gold.late["message_id"] not in streaming_gold.message_ids_after[2]
    dropped = sum(
        op.get("numRowsDroppedByWatermark", 0)
        for p in streaming_gold.progress[2]
        for op in p.get("stateOperators", [])
    )
    assert dropped == 1


def test_a_replay_adds_no_row(streaming_gold):
    assert streaming_gold.replay["message_id"] in streaming_gold.message_ids_after[1]
    assert sum(r.message_id == streaming_gold.replay["message_id"] for r in streaming_gold.gold_rows) == 1


def test_dedup_state_is_evicted_once_both_watermarks_pass(streaming_gold):
    """Bounded state: while Kraken lagged nothing was evicted (9 ids); once both exchanges moved on,
    the watermark (start + 48 min) evicts every id whose event time + 10 min it passed, leaving
    Kraken's +40 and +58 min trades and Binance's hour_later."""
    assert streaming_gold.progress[1][-1]["stateOperators"][0]["numRowsTotal"] == 9
    assert streaming_gold.progress[2][-1]["stateOperators"][0]["numRowsTotal"] == 3


def test_streaming_gold_table_holds_exactly_the_expected_trades(spark, streaming_gold):
    actual = spark.createDataFrame(streaming_gold.gold_rows, GOLD_SCHEMA).select(*GOLD_COLUMNS)
    expected = spark.createDataFrame([with_date_hour(t) for t in streaming_gold.expected], GOLD_SCHEMA)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_streaming_gold_partitions_by_date_and_hour(spark, streaming_gold):
    micros = [micros_from_datetime(t["timestamp"]) for t in streaming_gold.expected]
    hours = {(m // 3_600_000_000) % 24 for m in micros}
    assert {r.exchange_hour for r in streaming_gold.gold_rows} == hours == {12, 13}
