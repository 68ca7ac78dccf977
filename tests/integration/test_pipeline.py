"""The five jobs end to end on a real broker, registry, Spark and Delta, in the test session's Spark
(availableNow triggers, upstream first). One pipeline run per module; each test checks one promise.

Data of the run: valid trades of both exchanges timed around now, ten Binance trades produced twice,
Binance trades written with a second writer-schema version (an added optional field), and a known
set of malformed records (bad magic byte, unknown schema id, truncated Avro, negative price, zero
quantity, empty symbol, missing fields, a null value).
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema
from pyspark.sql import functions as F

from spark_jobs.avro_schemas import load_schema
from spark_jobs.contracts import DLQ_TABLE, EXCHANGES, GOLD_TABLE, bronze_table, silver_table, value_subject
from spark_jobs.registry_client import registry_client
from spark_jobs.synthetic_trades import encode_confluent
from spark_jobs.transforms.dlq import DlqErrorType
from tests.fixtures.pipeline_fixtures import (
    PipelineEnv,
    detach_listeners,
    expected_message_id,
    live_trades,
    now_factory,
    run_available_now,
    sample_sum,
    scrape,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

VALID_PER_EXCHANGE = 120
DUPLICATED = 10
SECOND_VERSION_TRADES = 20


class FirstRun:
    """What the module's first run produced, and the jobs it ran."""

    def __init__(self) -> None:
        self.expected_ids: dict[str, set[str]] = {e: set() for e in EXCHANGES}
        self.valid: dict[str, list[dict[str, Any]]] = {}
        self.expected_dlq: dict[str, Counter[str]] = {e: Counter() for e in EXCHANGES}
        self.produced: Counter[str] = Counter()
        self.second_schema_id = 0
        self.jobs: dict[str, Any] = {}


def second_binance_version() -> dict[str, Any]:
    schema = load_schema("binance_raw_trade")
    schema["fields"].append({"name": "venue", "type": ["null", "string"], "default": None})
    return schema


def produce_first_run(env: PipelineEnv, run: FirstRun) -> None:
    factory = now_factory(seed=11)
    for exchange in EXCHANGES:
        trades = live_trades(factory, exchange, VALID_PER_EXCHANGE)
        if exchange == "kraken":  # some Kraken trades come without an id (v1 feed): hashed ids
            for trade in trades[::7]:
                trade["trade_id"] = None
        run.valid[exchange] = trades
        run.produced[exchange] += env.produce_trades(exchange, trades)
        run.expected_ids[exchange] |= {expected_message_id(exchange, t) for t in trades}
    run.produced["binance"] += env.produce_trades("binance", run.valid["binance"][:DUPLICATED])

    # A second writer version of the Binance schema (added optional field), registered BACKWARD.
    client = registry_client(env.registry_url)
    v2_schema = second_binance_version()
    import json

    subject = value_subject(env.topics["binance"])
    run.second_schema_id = int(client.register_schema(subject, Schema(json.dumps(v2_schema), "AVRO")))
    assert run.second_schema_id != env.schema_ids["binance"]
    newer = [{**t, "venue": "spot"} for t in live_trades(factory, "binance", SECOND_VERSION_TRADES)]
    values = [(b"BTCUSDT", encode_confluent(run.second_schema_id, v2_schema, t)) for t in newer]
    run.produced["binance"] += env.produce_values("binance", values)
    run.expected_ids["binance"] |= {expected_message_id("binance", t) for t in newer}

    bad = factory.invalid_trade_records(env.schema_ids["binance"], unknown_schema_id=999_999)
    run.produced["binance"] += env.produce_values("binance", [(b"BAD", r.value) for r in bad])
    run.expected_dlq["binance"].update(str(r.expected_error) for r in bad)

    kraken_schema = load_schema("kraken_raw_trade")
    kraken_id = env.schema_ids["kraken"]
    kraken_bad = [
        (None, DlqErrorType.BAD_MAGIC_BYTE),  # a null value (tombstone)
        (factory.kraken_raw_trade(price=None), DlqErrorType.MISSING_FIELD),
        (factory.kraken_raw_trade(quantity="0"), DlqErrorType.NON_POSITIVE_QUANTITY),
        (factory.kraken_raw_trade(price="-1.5"), DlqErrorType.NON_POSITIVE_PRICE),
        (factory.kraken_raw_trade(symbol=""), DlqErrorType.EMPTY_SYMBOL),
    ]
    values = [
        (b"BAD", None if t is None else encode_confluent(kraken_id, kraken_schema, t)) for t, _ in kraken_bad
    ]
    run.produced["kraken"] += env.produce_values("kraken", values)
    run.expected_dlq["kraken"].update(str(e) for _, e in kraken_bad)


@pytest.fixture(scope="module")
def first_run(spark, module_pipeline_env: PipelineEnv):
    run = FirstRun()
    produce_first_run(module_pipeline_env, run)
    run.jobs = run_available_now(spark, module_pipeline_env.configs())
    yield run
    detach_listeners(spark, run.jobs.values())


def test_every_valid_trade_of_both_exchanges_reaches_gold_exactly_once(spark, module_pipeline_env, first_run):
    gold = module_pipeline_env.read(spark, GOLD_TABLE)
    rows = gold.select("exchange", "message_id").collect()
    assert len(rows) == len({r.message_id for r in rows}), "duplicate message_id in Gold"
    for exchange in EXCHANGES:
        got = {r.message_id for r in rows if r.exchange == exchange}
        assert got == first_run.expected_ids[exchange]


def test_bronze_is_silver_plus_dlq_and_gold_is_distinct_silver(spark, module_pipeline_env, first_run):
    env = module_pipeline_env
    counts = env.counts(spark)
    dlq = env.read(spark, DLQ_TABLE)
    silver_ids = set()
    for exchange in EXCHANGES:
        assert counts[bronze_table(exchange)] == first_run.produced[exchange]
        dlq_rows = dlq.where(F.col("exchange") == exchange).count()
        assert counts[bronze_table(exchange)] == counts[silver_table(exchange)] + dlq_rows
        silver_ids |= {
            r.message_id for r in env.read(spark, silver_table(exchange)).select("message_id").collect()
        }
    assert counts[silver_table("binance")] == VALID_PER_EXCHANGE + DUPLICATED + SECOND_VERSION_TRADES
    assert counts[GOLD_TABLE] == len(silver_ids)


def test_malformed_records_land_in_the_dlq_with_their_error_type(spark, module_pipeline_env, first_run):
    dlq = module_pipeline_env.read(spark, DLQ_TABLE)
    for exchange in EXCHANGES:
        rows = dlq.where(F.col("exchange") == exchange).collect()
        assert Counter(r.error_type for r in rows) == first_run.expected_dlq[exchange]
        assert all(r.source_table == bronze_table(exchange) for r in rows)
        assert len({(r.kafka_partition, r.kafka_offset) for r in rows}) == len(rows)
        assert all(r.error_reason for r in rows)


def test_a_second_writer_schema_version_is_decoded(spark, module_pipeline_env, first_run):
    silver = module_pipeline_env.read(spark, silver_table("binance"))
    newer = silver.where(F.col("schema_id") == first_run.second_schema_id)
    assert newer.count() == SECOND_VERSION_TRADES
    assert newer.where("price > 0 AND quantity > 0 AND symbol = 'BTC/USDT'").count() > 0


def test_gold_is_partitioned_by_exchange_date_and_hour(spark, module_pipeline_env, first_run):
    detail = spark.sql(f"DESCRIBE DETAIL delta.`{module_pipeline_env.table_path(GOLD_TABLE)}`").first()
    assert detail is not None
    assert list(detail.partitionColumns) == ["exchange_date", "exchange_hour"]
    gold = module_pipeline_env.read(spark, GOLD_TABLE)
    mismatched = gold.where(
        (F.col("exchange_date") != F.to_date("timestamp")) | (F.col("exchange_hour") != F.hour("timestamp"))
    )
    assert mismatched.count() == 0


def _eventually(check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_metrics_endpoints_report_what_the_tables_hold(spark, module_pipeline_env, first_run):
    env = module_pipeline_env
    counts = env.counts(spark)
    dlq = env.read(spark, DLQ_TABLE)
    for exchange in EXCHANGES:
        bronze_port = first_run.jobs[f"bronze-{exchange}"].metrics_port

        def bronze_matches(port=bronze_port, exchange=exchange):
            # Bronze counts arrive through the asynchronous listener bus.
            processed = sample_sum(scrape(port), "k2_records_processed_total", layer="bronze")
            assert processed == counts[bronze_table(exchange)]

        _eventually(bronze_matches)
        silver = scrape(first_run.jobs[f"silver-{exchange}"].metrics_port)
        assert (
            sample_sum(silver, "k2_records_processed_total", layer="silver") == counts[silver_table(exchange)]
        )
        by_type = Counter(r.error_type for r in dlq.where(F.col("exchange") == exchange).collect())
        for error_type, n in by_type.items():
            assert sample_sum(silver, "k2_dlq_records_total", exchange=exchange, error_type=error_type) == n
        assert sample_sum(silver, "k2_e2e_latency_seconds_count") == counts[silver_table(exchange)]
        assert sample_sum(silver, "k2_last_processed_event_timestamp_seconds") > time.time() - 3600
        # Consumer lag from Spark's own progress of the Kafka source: Bronze read its topic to the end.
        lag = [v for (name, labels), v in scrape(bronze_port).items() if name == "k2_consumer_lag_records"
               and ("topic", env.topics[exchange]) in labels]  # fmt: skip
        assert lag == [0.0]
    gold = scrape(first_run.jobs["gold"].metrics_port)
    assert sample_sum(gold, "k2_records_processed_total", layer="gold") == counts[GOLD_TABLE]
    assert sample_sum(gold, "k2_duplicates_removed_total") == DUPLICATED
    assert sample_sum(gold, "k2_batch_processing_duration_seconds_count") >= 1


def test_the_local_summary_and_progress_view_read_this_run(spark, module_pipeline_env, first_run):
    """k2 local's summary (read from the tables) and live view (from the metrics), over this run."""
    import io

    from rich.console import Console

    from spark_jobs.local.pipeline import LocalPipeline, LocalSettings
    from spark_jobs.local.progress import render
    from spark_jobs.local.summary import collect_summary, print_summary

    pipeline = LocalPipeline(LocalSettings(data_dir=module_pipeline_env.root, source="synthetic", rate=1))
    pipeline.jobs = list(first_run.jobs.values())
    pipeline.injected = first_run.expected_dlq["binance"] + first_run.expected_dlq["kraken"]
    summary = collect_summary(spark, pipeline, {"python driver": 1})
    assert summary.dlq_only_injected
    assert all(summary.conserved(e) for e in EXCHANGES)
    assert (
        summary.rows[GOLD_TABLE] == summary.silver_distinct_message_ids == summary.gold_distinct_message_ids
    )
    assert summary.duplicates_removed_this_run == DUPLICATED
    p50, p99 = summary.latency_p50_p99["gold"]
    assert p50 is not None and p99 is not None and 0 < p50 <= p99
    out = io.StringIO()
    console = Console(file=out, width=160)
    print_summary(summary, module_pipeline_env.root, console)
    console.print(render(pipeline, deadline=None))
    text = out.getvalue()
    assert "FAIL" not in text
    assert "DLQ holds only the injected bad records" in text
    assert all(name in text for name in first_run.jobs)


# --- a second run on the same pipeline: replay, late data, lost Gold state ----------------------


@pytest.fixture(scope="module")
def second_run(spark, module_pipeline_env: PipelineEnv, first_run: FirstRun):
    """Replays every valid trade of the first run, adds trades an hour old (beyond the 10-minute
    watermark), then runs the jobs again from their checkpoints."""
    env = module_pipeline_env
    gold_before = env.read(spark, GOLD_TABLE).count()
    silver_before = {e: env.read(spark, silver_table(e)).count() for e in EXCHANGES}
    for exchange in EXCHANGES:
        env.produce_trades(exchange, first_run.valid[exchange])
    late = live_trades(now_factory(seed=99, seconds_ago=3600), "kraken", 15)
    env.produce_trades("kraken", late)
    jobs = run_available_now(spark, env.configs())
    yield {"gold_before": gold_before, "silver_before": silver_before, "late": late, "jobs": jobs}
    detach_listeners(spark, jobs.values())


def test_replayed_trades_add_no_gold_rows(spark, module_pipeline_env, first_run, second_run):
    env = module_pipeline_env
    assert env.read(spark, GOLD_TABLE).count() == second_run["gold_before"]
    for exchange in EXCHANGES:  # Silver keeps the replay (it is what Kafka delivered)
        replayed = len(first_run.valid[exchange]) + (len(second_run["late"]) if exchange == "kraken" else 0)
        assert (
            env.read(spark, silver_table(exchange)).count()
            == second_run["silver_before"][exchange] + replayed
        )
    replayed_total = sum(len(first_run.valid[e]) for e in EXCHANGES)
    # Part of the count arrives through the StreamingQueryListener, whose progress events are
    # delivered asynchronously after the batch commits: wait for them, bounded.
    deadline = time.monotonic() + 60
    while True:
        removed = sample_sum(scrape(second_run["jobs"]["gold"].metrics_port), "k2_duplicates_removed_total")
        if removed == replayed_total or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert removed == replayed_total


def test_data_later_than_the_watermark_stays_in_silver_and_is_counted_not_merged(
    spark, module_pipeline_env, second_run
):
    """Documented behaviour: a trade whose event time is behind Gold's watermark when it arrives is
    not added to Gold (dedup state for it is gone); it stays in Silver and k2_late_rows_dropped_total
    counts it."""
    env = module_pipeline_env
    late_ids = {expected_message_id("kraken", t) for t in second_run["late"]}
    silver_ids = {
        r.message_id for r in env.read(spark, silver_table("kraken")).select("message_id").collect()
    }
    gold_ids = {r.message_id for r in env.read(spark, GOLD_TABLE).select("message_id").collect()}
    assert late_ids <= silver_ids
    assert not late_ids & gold_ids
    gold_metrics = scrape(second_run["jobs"]["gold"].metrics_port)
    assert sample_sum(gold_metrics, "k2_late_rows_dropped_total") == len(late_ids)


def test_gold_rerun_without_its_state_adds_only_what_gold_lacked(spark, module_pipeline_env, second_run):
    """The insert-only MERGE on message_id is the last guard: Gold started from an empty checkpoint
    (all dedup state and the watermark lost) re-reads all of Silver; the only rows it adds are the
    late trades the old watermark kept out, and no message_id appears twice."""
    from dataclasses import replace

    env = module_pipeline_env
    before = env.read(spark, GOLD_TABLE).count()
    fresh = replace(
        env.configs()["gold"], checkpoints_uri=(env.root / "checkpoints-fresh").resolve().as_uri()
    )
    jobs = run_available_now(spark, {"gold": fresh}, stages=[("gold",)])
    try:
        gold = env.read(spark, GOLD_TABLE)
        late = len(second_run["late"])
        assert gold.count() == before + late
        assert gold.select("message_id").distinct().count() == before + late
        silver_total = sum(env.read(spark, silver_table(e)).count() for e in EXCHANGES)
        metrics = jobs["gold"].metrics
        assert metrics.value("k2_records_processed_total") == late
        assert metrics.value("k2_duplicates_removed_total") == silver_total - late
    finally:
        detach_listeners(spark, jobs.values())


def test_late_trades_are_older_than_the_watermark(second_run):
    # Guards the test data itself: the "late" trades really are an hour behind.
    newest_late = max(t["trade_time_seconds"] for t in second_run["late"])
    assert float(newest_late) < time.time() - timedelta(minutes=30).total_seconds()
