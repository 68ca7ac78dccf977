"""The data-quality checks on small DataFrames: each check turns critical on the problem it exists
for, stays ok on clean data, and says which side or scope is wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession

from spark_jobs.metrics import QUALITY_CHECK_STATUS, QUALITY_CHECK_VALUE, QualityMetrics
from spark_jobs.quality import checks
from spark_jobs.quality.checks import CheckResult, Status
from spark_jobs.quality.runner import QUALITY_CHECKS_SCHEMA, results_frame
from spark_jobs.quality.snapshots import DeltaSourceOffset, parse_offsets
from spark_jobs.synthetic_trades import CryptoDataFactory
from spark_jobs.transforms.bronze import BRONZE_SCHEMA
from spark_jobs.transforms.dlq import DLQ_SCHEMA
from spark_jobs.transforms.gold import GOLD_COLUMNS, GOLD_SCHEMA
from spark_jobs.transforms.silver import V2_COLUMNS, V2_SCHEMA

pytestmark = pytest.mark.unit

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
FIVE_MINUTES = timedelta(minutes=5)


def silver_df(spark: SparkSession, trades: list[dict]) -> DataFrame:
    return spark.createDataFrame([tuple(t[c] for c in V2_COLUMNS) for t in trades], V2_SCHEMA)


def gold_df(spark: SparkSession, trades: list[dict]) -> DataFrame:
    rows = []
    for t in trades:
        ts = t["timestamp"].astimezone(UTC)
        rows.append((*(t[c] for c in V2_COLUMNS), ts.date(), ts.hour))
    return spark.createDataFrame(rows, GOLD_SCHEMA).select(*GOLD_COLUMNS)


def trades(exchange: str, n: int, *, at: datetime, symbol: str | None = None, seed: int = 1) -> list[dict]:
    factory = CryptoDataFactory(seed=seed)
    made = []
    for i in range(n):
        overrides = {
            "timestamp": at - timedelta(seconds=i + 1),
            "validation_timestamp": at - timedelta(seconds=i),
        }
        if symbol:
            overrides["symbol"] = symbol
        made.append(factory.v2_unified_trade(exchange=exchange, **overrides))
    return made


def dlq_df(spark: SparkSession, rows: list[tuple[str, str, datetime]]) -> DataFrame:
    """(exchange, error_type, error_timestamp) -> full DLQ rows."""
    full = [
        (b"x", error_type, "reason", exchange, f"bronze_{exchange}_trades", "t", 0, i, None, at, at.date())
        for i, (exchange, error_type, at) in enumerate(rows)
    ]
    return spark.createDataFrame(full, DLQ_SCHEMA)


def bronze_df(spark: SparkSession, rows: list[tuple[str, int, int, datetime]]) -> DataFrame:
    """(key, partition, offset, kafka_timestamp) -> Bronze rows."""
    full = [(k.encode(), b"v", "t", p, o, ts, ts, ts.date()) for k, p, o, ts in rows]
    return spark.createDataFrame(full, BRONZE_SCHEMA)


def by_scope(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.scope: r for r in results}


# --- DLQ rate -------------------------------------------------------------------------------------


def test_dlq_rate_per_exchange_and_error_type_against_both_thresholds(spark):
    in_window = NOW - timedelta(seconds=30)
    old = NOW - timedelta(minutes=10)
    silver = {
        "binance": silver_df(spark, trades("binance", 95, at=NOW)),
        "kraken": silver_df(spark, trades("kraken", 99, at=NOW)),
    }
    dlq = dlq_df(
        spark,
        [("binance", "bad_magic_byte", in_window)] * 3
        + [("binance", "non_positive_price", in_window)] * 2
        + [("kraken", "empty_symbol", in_window)]
        + [("kraken", "empty_symbol", old)] * 50,  # outside the window: not counted
    )
    results = by_scope(
        checks.dlq_rate(silver, dlq, now=NOW, window=FIVE_MINUTES, warning=0.01, critical=0.05)
    )
    assert results["binance"].value == pytest.approx(5 / 100)
    assert results["binance"].status is Status.CRITICAL
    assert results["binance/bad_magic_byte"].value == pytest.approx(3 / 100)
    assert results["binance/bad_magic_byte"].status is Status.WARNING
    assert results["kraken"].value == pytest.approx(1 / 100)
    assert results["kraken"].status is Status.WARNING
    assert "1 of 100" in results["kraken"].detail


def test_dlq_rate_is_zero_and_ok_without_traffic_or_without_dead_letters(spark):
    silver = {"binance": silver_df(spark, trades("binance", 20, at=NOW)), "kraken": silver_df(spark, [])}
    results = by_scope(checks.dlq_rate(silver, dlq_df(spark, []), now=NOW, window=FIVE_MINUTES))
    assert results["binance"].value == 0 and results["kraken"].value == 0
    assert checks.worst(results.values()) is Status.OK


# --- freshness ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def freshness_tables(spark):
    fresh, stale = NOW - timedelta(seconds=20), NOW - timedelta(minutes=20)
    binance = trades("binance", 3, at=fresh, symbol="BTC/USDT") + trades(
        "binance", 2, at=stale, symbol="DOGE/USDT", seed=2
    )
    kraken = trades("kraken", 3, at=stale, symbol="BTC/USD", seed=3)
    bronze = {
        "binance": bronze_df(spark, [("BTCUSDT", 0, 0, fresh), ("DOGEUSDT", 1, 0, stale)]),
        "kraken": bronze_df(spark, [("BTC/USD", 0, 0, stale), ("BTC/USD", 0, 1, stale)]),
    }
    silver = {"binance": silver_df(spark, binance), "kraken": silver_df(spark, kraken)}
    return bronze, silver, gold_df(spark, binance + kraken)


def test_freshness_tells_a_quiet_symbol_from_a_dead_exchange(freshness_tables):
    bronze, silver, gold = freshness_tables
    results = by_scope(checks.freshness(bronze, silver, gold, now=NOW, stale_after=FIVE_MINUTES))
    for layer in ("silver", "gold"):
        assert results[f"{layer}/binance/BTC/USDT"].status is Status.OK
        quiet = results[f"{layer}/binance/DOGE/USDT"]
        assert quiet.status is Status.WARNING and "quiet symbol" in quiet.detail
        assert results[f"{layer}/binance"].status is Status.OK
        assert results[f"{layer}/binance"].value == pytest.approx(21, abs=1.5)
        assert results[f"{layer}/kraken"].status is Status.CRITICAL
        assert results[f"{layer}/kraken/BTC/USD"].status is Status.CRITICAL
    assert results["bronze/binance/DOGEUSDT"].status is Status.WARNING
    assert results["bronze/kraken"].status is Status.CRITICAL
    assert results["bronze/kraken"].value == pytest.approx(20 * 60)


def test_freshness_uses_kafka_end_offsets_to_blame_the_feed_or_the_bronze_job(freshness_tables):
    bronze, silver, gold = freshness_tables
    nothing_new = {"kraken": {0: 2, 1: 0, 2: 0}, "binance": {0: 1, 1: 1}}
    dead_feed = by_scope(
        checks.freshness(
            bronze, silver, gold, now=NOW, stale_after=FIVE_MINUTES, kafka_end_offsets=nothing_new
        )
    )
    assert "feed is dead" in dead_feed["bronze/kraken"].detail
    backlog = {"kraken": {0: 2, 1: 40, 2: 0}, "binance": {0: 1, 1: 1}}
    stuck = by_scope(
        checks.freshness(bronze, silver, gold, now=NOW, stale_after=FIVE_MINUTES, kafka_end_offsets=backlog)
    )
    assert "Kafka holds 40 records Bronze has not written" in stuck["bronze/kraken"].detail
    assert stuck["bronze/kraken"].status is Status.CRITICAL


def test_freshness_blames_the_first_stale_layer(spark, freshness_tables):
    bronze, silver, _gold = freshness_tables
    fresh_bronze_kraken = {
        **bronze,
        "kraken": bronze_df(spark, [("BTC/USD", 0, 5, NOW - timedelta(seconds=5))]),
    }
    results = by_scope(
        checks.freshness(fresh_bronze_kraken, silver, _gold, now=NOW, stale_after=FIVE_MINUTES)
    )
    assert results["bronze/kraken"].status is Status.OK
    assert "the silver job is stuck" in results["silver/kraken"].detail
    assert "stuck" not in results["gold/kraken"].detail  # stale because silver is


def test_freshness_of_an_empty_layer_is_critical(spark):
    empty = silver_df(spark, [])
    results = by_scope(
        checks.freshness(
            {"binance": bronze_df(spark, [])},
            {"binance": empty},
            gold_df(spark, []),
            now=NOW,
            stale_after=FIVE_MINUTES,
        )
    )
    assert results["silver/binance"].status is Status.CRITICAL and results["silver/binance"].value is None
    assert results["bronze/binance"].detail == "no rows at all"


# --- duplicates -----------------------------------------------------------------------------------


def test_duplicates_counts_repeated_message_ids_and_trade_identities(spark):
    clean = trades("binance", 10, at=NOW) + trades("kraken", 5, at=NOW, seed=9)
    assert checks.worst(checks.duplicates(gold_df(spark, clean), now=NOW)) is Status.OK
    same_trade_new_id = {**clean[3], "message_id": "binance-other-id"}
    dirty = by_scope(
        checks.duplicates(gold_df(spark, [*clean, clean[0], clean[0], same_trade_new_id]), now=NOW)
    )
    assert dirty["gold/message_id"].value == 2
    assert dirty["gold/exchange_symbol_trade_id"].value == 3
    assert all(r.status is Status.CRITICAL for r in dirty.values())


# --- conservation ---------------------------------------------------------------------------------


def test_bronze_equals_silver_plus_dlq_and_the_short_side_is_named(spark):
    bronze = bronze_df(spark, [("BTCUSDT", 0, i, NOW) for i in range(10)])
    silver_rows = trades("binance", 8, at=NOW)
    dlq = dlq_df(spark, [("binance", "bad_magic_byte", NOW)] * 2 + [("kraken", "empty_symbol", NOW)])
    ok = checks.bronze_conservation(
        {"binance": bronze}, {"binance": silver_df(spark, silver_rows)}, dlq, now=NOW
    )
    assert ok[0].status is Status.OK and ok[0].value == 0
    short = checks.bronze_conservation(
        {"binance": bronze}, {"binance": silver_df(spark, silver_rows[:7])}, dlq, now=NOW
    )
    assert short[0].status is Status.CRITICAL and short[0].value == 1
    assert short[0].detail.startswith("silver + dlq short by 1")
    extra = trades("binance", 9, at=NOW, seed=4)
    more = checks.bronze_conservation({"binance": bronze}, {"binance": silver_df(spark, extra)}, dlq, now=NOW)
    assert more[0].value == -1 and more[0].detail.startswith("bronze short by 1")


def test_gold_equals_distinct_silver_except_rows_later_than_the_watermark(spark):
    on_time = trades("binance", 6, at=NOW) + trades("kraken", 4, at=NOW, seed=5)
    late = [{**t, "timestamp": NOW - timedelta(hours=1)} for t in trades("kraken", 2, at=NOW, seed=6)]
    silver = {
        "binance": silver_df(
            spark, [t for t in on_time if t["exchange"] == "binance"] + on_time[:2]
        ),  # replays
        "kraken": silver_df(spark, [t for t in on_time if t["exchange"] == "kraken"] + late),
    }
    watermark = timedelta(minutes=10)
    ok = checks.gold_conservation(silver, gold_df(spark, on_time), now=NOW, watermark=watermark)
    assert ok[0].status is Status.OK and ok[0].value == 0
    gold_short = checks.gold_conservation(silver, gold_df(spark, on_time[1:]), now=NOW, watermark=watermark)
    assert gold_short[0].status is Status.CRITICAL and "gold short by 1" in gold_short[0].detail
    stranger = trades("binance", 1, at=NOW, seed=7)
    silver_short = checks.gold_conservation(
        silver, gold_df(spark, on_time + stranger), now=NOW, watermark=watermark
    )
    assert "silver short by 1" in silver_short[0].detail and silver_short[0].value == 1


# --- results, metrics, checkpoint offsets ---------------------------------------------------------


def test_results_become_quality_checks_rows(spark):
    results = [
        CheckResult("duplicates", "gold/message_id", 2.0, 0.0, Status.CRITICAL, NOW, "2 duplicate rows in 9"),
        CheckResult("freshness", "silver/kraken", None, 300.0, Status.CRITICAL, NOW, "no rows at all"),
    ]
    expected = spark.createDataFrame(
        [
            ("duplicates", "gold/message_id", 2.0, 0.0, "critical", NOW, "2 duplicate rows in 9", NOW.date()),
            ("freshness", "silver/kraken", None, 300.0, "critical", NOW, "no rows at all", NOW.date()),
        ],
        QUALITY_CHECKS_SCHEMA,
    )
    assert_df_equality(results_frame(spark, results), expected, ignore_row_order=True)


def test_quality_metrics_follow_the_latest_run_and_drop_vanished_scopes():
    metrics = QualityMetrics()
    metrics.record_run("freshness", [("silver/binance", 0, 12.0), ("silver/kraken", 2, 900.0)], 1.5, 100.0)
    metrics.record_run("freshness", [("silver/binance", 1, 400.0)], 1.2, 200.0)
    samples = {
        (s.name, s.labels.get("scope")): s.value
        for family in metrics.registry.collect()
        for s in family.samples
    }
    assert samples[(QUALITY_CHECK_STATUS, "silver/binance")] == 1
    assert samples[(QUALITY_CHECK_VALUE, "silver/binance")] == 400.0
    assert (QUALITY_CHECK_STATUS, "silver/kraken") not in samples


def test_checkpoint_offsets_are_parsed_per_source():
    text = "\n".join(
        [
            "v1",
            '{"batchWatermarkMs":0,"batchTimestampMs":1}',
            '{"sourceVersion":1,"reservoirId":"a","reservoirVersion":7,"index":-1,"isStartingVersion":false}',
            '{"sourceVersion":1,"reservoirId":"b","reservoirVersion":3,"index":2,"isStartingVersion":true}',
        ]
    )
    assert parse_offsets(text) == [DeltaSourceOffset("a", 7, -1, False), DeltaSourceOffset("b", 3, 2, True)]


def test_the_summary_for_the_pipeline_status_names_the_worst_check():
    from spark_jobs.quality.report import summarize

    later = NOW + timedelta(minutes=5)
    summary = summarize(
        {
            "dlq_rate": [CheckResult("dlq_rate", "binance", 0.0, 0.05, Status.OK, NOW)],
            "freshness": [
                CheckResult("freshness", "gold/kraken", 900.0, 300.0, Status.CRITICAL, later),
                CheckResult("freshness", "gold/binance", 3.0, 300.0, Status.OK, later),
            ],
            "duplicates": [],
        }
    )
    assert summary["worstStatus"] == "critical"
    assert summary["lastRun"] == "2026-06-01T12:05:00Z"
    assert summary["checks"]["freshness"] == {
        "status": "critical", "lastRun": "2026-06-01T12:05:00Z", "scopes": 2, "notOk": ["gold/kraken"],
    }  # fmt: skip
    assert summary["checks"]["dlq_rate"]["status"] == "ok" and "duplicates" not in summary["checks"]
    assert summarize({}) == {"lastRun": None, "worstStatus": None, "checks": {}}


def test_k2_quality_arguments_become_settings_and_results_print(tmp_path):
    import argparse
    import io

    from rich.console import Console

    from spark_jobs.quality import cli

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--data-dir", str(tmp_path), "--interval", "20", "--stale-after", "90"])
    settings = cli.settings_from_args(args)
    assert settings.tables_uri == (tmp_path / "tables").resolve().as_uri()
    assert settings.intervals == {"dlq_rate": 20, "freshness": 20, "conservation": 20, "duplicates": 240}
    assert settings.stale_after_seconds == 90
    out = io.StringIO()
    result = CheckResult("duplicates", "gold/message_id", 2.0, 0.0, Status.CRITICAL, NOW, "2 duplicate rows")
    cli.print_results({"duplicates": [result]}, {"duplicates": 1.25}, Console(file=out, width=200))
    assert "gold/message_id" in out.getvalue() and "critical" in out.getvalue() and "1.25 s" in out.getvalue()


def test_freshness_runs_without_kafka_when_the_broker_does_not_answer():
    from spark_jobs.quality.runner import QualityRunner, QualitySettings

    settings = QualitySettings(tables_uri="file:///nowhere", checkpoints_uri="file:///nowhere",
                               kafka_bootstrap_servers="127.0.0.1:1")  # fmt: skip
    runner = QualityRunner(spark=None, settings=settings)  # type: ignore[arg-type]
    assert runner._kafka_end_offsets() is None
    no_kafka = QualityRunner(spark=None, settings=QualitySettings("file:///t", "file:///c"))  # type: ignore[arg-type]
    assert no_kafka._kafka_end_offsets() is None


def test_the_schedule_runs_each_check_when_its_interval_has_passed(monkeypatch):
    from spark_jobs.quality import runner as runner_module
    from spark_jobs.quality.runner import QualityRunner, QualitySettings

    clock = {"now": 1000.0}
    monkeypatch.setattr(runner_module.time, "monotonic", lambda: clock["now"])
    settings = QualitySettings.with_interval(300, tables_uri="file:///t", checkpoints_uri="file:///c")
    runner = QualityRunner(spark=None, settings=settings)  # type: ignore[arg-type]
    ran: list[str] = []
    monkeypatch.setattr(runner, "run_check", lambda name, now: ran.append(name) or [])
    assert runner.run_due() == list(checks.CHECK_NAMES)  # everything at the start
    assert runner.run_due() == []
    clock["now"] += 301
    assert runner.run_due() == [checks.DLQ_RATE, checks.FRESHNESS, checks.CONSERVATION]
    clock["now"] += 3600
    assert checks.DUPLICATES in runner.run_due()
    assert ran.count(checks.DUPLICATES) == 2 and ran.count(checks.DLQ_RATE) == 3
