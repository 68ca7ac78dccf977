"""Gold on real Spark: union of both Silver tables, exact deduplication on message_id, UTC date/hour;
and as a real streaming query (Delta sources, availableNow, Delta sink) for the watermark: late rows
dropped, replays dropped, deduplication state evicted once the watermark passes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F

from spark_jobs.normalization import micros_from_datetime
from spark_jobs.synthetic_trades import DEFAULT_START, CryptoDataFactory
from spark_jobs.transforms.gold import GOLD_COLUMNS, GOLD_PARTITION_COLUMNS, GOLD_SCHEMA, to_gold
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
    kraken_same_id = dict(kraken[0], trade_id=shared_id, message_id=f"kraken-20240603-{shared_id}")
    kraken = [kraken_same_id, *kraken[1:]]
    binance_in = [*binance, before_midnight, at_midnight, replay, binance[7]]
    expected = [*binance, before_midnight, at_midnight, *kraken]
    # Kraken's Silver with its columns in another order and one extra column: union is by name.
    kraken_df = v2_df(spark, kraken).select(*reversed(V2_COLUMNS)).withColumn("extra", F.lit(1))
    gold_df = to_gold(v2_df(spark, binance_in), kraken_df, WATERMARK)
    return BatchGold(binance_in, kraken, expected, gold_df, gold_df.collect())


def test_gold_has_the_v2_fields_then_date_and_hour(batch_gold):
    assert batch_gold.gold_df.columns == list(GOLD_COLUMNS)
    assert (*V2_COLUMNS, "exchange_date", "exchange_hour") == GOLD_COLUMNS
    assert [f.dataType for f in batch_gold.gold_df.schema.fields] == [f.dataType for f in GOLD_SCHEMA.fields]


def test_partition_columns_are_gold_columns():
    assert set(GOLD_PARTITION_COLUMNS) <= set(GOLD_COLUMNS)


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
        assert row.message_id.split("-")[1] == row.exchange_date.strftime("%Y%m%d")
        assert row.exchange_hour == row.timestamp.astimezone(UTC).hour


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


# --- streaming: the watermark --------------------------------------------------------------------


@dataclass(frozen=True)
class StreamingGold:
    start: datetime
    message_ids_after: list[set[str]]  # Gold's ids after each run
    progress: list[list[dict]]  # recentProgress of each run
    late: dict
    replay: dict
    on_time: dict
    gold_rows: list[Row]
    expected: list[dict]


def _run_gold(spark: SparkSession, root: str) -> tuple[set[str], list[dict]]:
    silver_binance = spark.readStream.format("delta").load(f"{root}/silver_binance")
    silver_kraken = spark.readStream.format("delta").load(f"{root}/silver_kraken")
    query = (
        to_gold(silver_binance, silver_kraken, WATERMARK)
        .writeStream.format("delta")
        .option("checkpointLocation", f"{root}/checkpoint")
        .partitionBy(*GOLD_PARTITION_COLUMNS)
        .trigger(availableNow=True)
        .start(f"{root}/gold")
    )
    query.awaitTermination(240)
    assert query.exception() is None
    ids = {
        r.message_id for r in spark.read.format("delta").load(f"{root}/gold").select("message_id").collect()
    }
    return ids, list(query.recentProgress)


@pytest.fixture(scope="module")
def streaming_gold(spark, tmp_path_factory) -> StreamingGold:
    root = str(tmp_path_factory.mktemp("gold_stream"))
    factory = CryptoDataFactory(seed=21)
    start = DEFAULT_START
    binance = [factory.v2_unified_trade(exchange="binance") for _ in range(4)]
    kraken = [factory.v2_unified_trade(exchange="kraken") for _ in range(4)]

    def append(table: str, trades: list[dict]) -> None:
        v2_df(spark, trades).write.format("delta").mode("append").save(f"{root}/{table}")

    append("silver_binance", [*binance, binance[0]])  # a duplicate inside the first batch
    append("silver_kraken", kraken)
    ids, progress = [], []
    for step in range(3):
        if step == 1:
            hour_later = factory.v2_unified_trade(exchange="binance", timestamp=start + timedelta(hours=1))
            append("silver_binance", [hour_later])  # moves the watermark to start + 50 min
        if step == 2:
            late = factory.v2_unified_trade(exchange="kraken", timestamp=start + timedelta(minutes=5))
            on_time = factory.v2_unified_trade(exchange="kraken", timestamp=start + timedelta(minutes=58))
            replay = dict(
                hour_later, validation_timestamp=hour_later["validation_timestamp"] + timedelta(minutes=2)
            )
            append("silver_kraken", [late, on_time])
            append("silver_binance", [replay])
        run_ids, run_progress = _run_gold(spark, root)
        ids.append(run_ids)
        progress.append(run_progress)
    gold_rows = spark.read.format("delta").load(f"{root}/gold").collect()
    expected = [*binance, *kraken, hour_later, on_time]
    return StreamingGold(start, ids, progress, late, replay, on_time, gold_rows, expected)


def test_streaming_gold_deduplicates_inside_a_batch(streaming_gold):
    first_batch = streaming_gold.progress[0][0]
    assert first_batch["numInputRows"] == 9
    assert len(streaming_gold.message_ids_after[0]) == 8


def test_watermark_is_max_event_time_minus_the_delay(streaming_gold):
    watermarks = [p["eventTime"]["watermark"] for run in streaming_gold.progress for p in run]
    hour_later = streaming_gold.start + timedelta(minutes=50)
    assert hour_later.strftime("%Y-%m-%dT%H:%M:%S.000Z") in watermarks


def test_a_row_older_than_the_watermark_is_dropped(streaming_gold):
    assert streaming_gold.late["message_id"] not in streaming_gold.message_ids_after[2]


def test_a_replay_within_the_watermark_is_dropped(streaming_gold):
    assert streaming_gold.replay["message_id"] in streaming_gold.message_ids_after[1]
    assert sum(r.message_id == streaming_gold.replay["message_id"] for r in streaming_gold.gold_rows) == 1


def test_an_on_time_row_is_kept_after_the_watermark_moved(streaming_gold):
    assert streaming_gold.on_time["message_id"] in streaming_gold.message_ids_after[2]


def test_dedup_state_is_evicted_once_the_watermark_passes(streaming_gold):
    """Bounded state: after the watermark jumps an hour, only the newest id is still remembered."""
    state_sizes = [p["stateOperators"][0]["numRowsTotal"] for p in streaming_gold.progress[1]]
    assert state_sizes[0] == 9
    assert state_sizes[-1] == 1


def test_streaming_gold_table_holds_exactly_the_expected_trades(spark, streaming_gold):
    actual = spark.createDataFrame(streaming_gold.gold_rows, GOLD_SCHEMA).select(*GOLD_COLUMNS)
    expected = spark.createDataFrame([with_date_hour(t) for t in streaming_gold.expected], GOLD_SCHEMA)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_streaming_gold_partitions_by_date_and_hour(spark, streaming_gold):
    micros = [micros_from_datetime(t["timestamp"]) for t in streaming_gold.expected]
    hours = {(m // 3_600_000_000) % 24 for m in micros}
    assert {r.exchange_hour for r in streaming_gold.gold_rows} == hours == {12, 13}
