"""The data-quality checks against the real pipeline: the five jobs on the real broker, registry,
Spark and Delta (availableNow runs in the test session's Spark, upstream first, as in
test_pipeline), the checks run by the QualityRunner exactly as `k2 quality` runs them. After a
healthy run in which every check is ok, each problem is injected in turn and the matching check must
be critical at its next run (the run that follows the jobs' next batch), naming the right scope:

- a DLQ burst above 5% (30 bad records on Binance next to ~60 good ones),
- one exchange stalled (Kraken stops; Binance goes on),
- a duplicate forced into Gold,
- a Silver row deleted.

The time from each injection to the critical result is measured and printed (it includes the jobs'
batch; on a busy CI machine that dominates). The scheduler itself (runs due every interval) has a
unit test; `k2 local --quality-interval S` runs this same runner on that schedule.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from spark_jobs.contracts import GOLD_TABLE, QUALITY_CHECKS_TABLE, silver_table
from spark_jobs.metrics import QualityMetrics
from spark_jobs.quality import checks
from spark_jobs.quality.checks import CheckResult, Status
from spark_jobs.quality.runner import QualityRunner, QualitySettings
from tests.fixtures.pipeline_fixtures import (
    STAGES,
    PipelineEnv,
    detach_listeners,
    live_trades,
    now_factory,
    run_available_now,
    sample_sum,
    scrape,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Generous for the healthy runs (a loaded CI machine takes minutes per availableNow pass); the stall
#: test judges with a threshold between the stalled and the live exchange's ages instead.
STALE_AFTER = 900.0
STALL_GAP = 40.0  # seconds Kraken stays silent while Binance goes on
PER_EXCHANGE = 30
SILVER_STAGES = (("bronze-binance", "bronze-kraken"), ("silver-binance", "silver-kraken"))
DETECTED: dict[str, float] = {}


def status_of(results: list[CheckResult], scope: str) -> Status | None:
    return next((r.status for r in results if r.scope == scope), None)


class Pipeline:
    def __init__(self, spark: Any, env: PipelineEnv) -> None:
        self.spark, self.env = spark, env
        settings = QualitySettings(
            tables_uri=env.tables_uri,
            checkpoints_uri=(env.root / "checkpoints").resolve().as_uri(),
            intervals=dict.fromkeys(checks.CHECK_NAMES, 300.0),
            stale_after_seconds=STALE_AFTER,
            kafka_bootstrap_servers=env.bootstrap_servers,
            topics=env.topics,
        )
        self.runner = QualityRunner(spark, settings, QualityMetrics())
        self.port = self.runner.metrics.serve(0, "127.0.0.1")
        self.factory = now_factory(seed=23, seconds_ago=5)
        self.jobs: list[Any] = []
        self.kraken_last_produced = 0.0

    def produce(self, exchange: str, n: int = PER_EXCHANGE) -> None:
        self.factory.clock = datetime.now(UTC) - timedelta(seconds=5)
        self.env.produce_trades(exchange, live_trades(self.factory, exchange, n))
        if exchange == "kraken":
            self.kraken_last_produced = time.time()

    def run_jobs(self, stages: Any = STAGES) -> None:
        ran = run_available_now(self.spark, self.env.configs(), stages=stages)
        self.jobs += ran.values()

    def check(self, name: str) -> list[CheckResult]:
        return self.runner.run_once([name])[name]


@pytest.fixture(scope="module")
def pipeline(spark, module_pipeline_env: PipelineEnv):
    p = Pipeline(spark, module_pipeline_env)
    for exchange in ("binance", "kraken"):
        p.produce(exchange)
    p.run_jobs()
    yield p
    detach_listeners(spark, p.jobs)
    print(
        "\ndetection seconds (injection -> critical result):", {k: round(v, 1) for k, v in DETECTED.items()}
    )
    print("last run seconds per check:", {k: round(v, 2) for k, v in p.runner.durations.items()})


def test_a_healthy_pipeline_is_green_on_every_check(pipeline):
    results = pipeline.runner.run_once()
    for name, rows in results.items():
        assert checks.worst(rows) is Status.OK, (name, [r for r in rows if r.status is not Status.OK])
    assert {r.scope for r in results[checks.CONSERVATION]} == {"binance", "kraken", "gold"}
    assert status_of(results[checks.FRESHNESS], "gold/kraken") is Status.OK


def test_a_dlq_burst_above_5_percent_turns_dlq_rate_critical(pipeline):
    injected = time.time()
    pipeline.produce("binance", 60)
    pipeline.env.produce_values("binance", [(b"BAD", b"\x07not-avro") for _ in range(30)])
    pipeline.produce("kraken")
    pipeline.run_jobs(SILVER_STAGES)
    results = pipeline.check(checks.DLQ_RATE)
    DETECTED["dlq burst"] = time.time() - injected
    assert status_of(results, "binance") is Status.CRITICAL
    assert status_of(results, "binance/bad_magic_byte") is Status.CRITICAL
    assert status_of(results, "kraken") is Status.OK
    # Bronze = Silver + DLQ still holds: bad records are conserved, not lost.
    conservation = pipeline.check(checks.CONSERVATION)
    assert status_of(conservation, "binance") is Status.OK


def test_a_duplicate_forced_into_gold_turns_duplicates_critical(spark, pipeline):
    env = pipeline.env
    injected = time.time()
    row = env.read(spark, GOLD_TABLE).limit(1)
    row.write.format("delta").mode("append").save(env.table_path(GOLD_TABLE))
    results = pipeline.check(checks.DUPLICATES)
    DETECTED["duplicate in gold"] = time.time() - injected
    assert {r.scope: (r.status, r.value) for r in results} == {
        "gold/message_id": (Status.CRITICAL, 1),
        "gold/exchange_symbol_trade_id": (Status.CRITICAL, 1),
    }
    samples = scrape(pipeline.port)
    assert sample_sum(samples, "k2_quality_check_status", check="duplicates", scope="gold/message_id") == 2


def test_one_exchange_stalled_turns_freshness_critical_for_it_only(pipeline):
    stalled = pipeline.kraken_last_produced  # Kraken's feed stops here; Binance goes on
    while time.time() < stalled + STALL_GAP:
        time.sleep(1)
    pipeline.produce("binance", 5)
    binance_last = time.time()
    pipeline.run_jobs()
    # The threshold sits halfway between the two exchanges' silences: Kraken is past it, Binance not.
    threshold = (binance_last - stalled) / 2 + (time.time() - binance_last)
    pipeline.runner.settings = dataclasses.replace(pipeline.runner.settings, stale_after_seconds=threshold)
    results = pipeline.check(checks.FRESHNESS)
    DETECTED["kraken stalled (after passing the threshold)"] = time.time() - (stalled + threshold)
    for layer in ("bronze", "silver", "gold"):
        assert status_of(results, f"{layer}/kraken") is Status.CRITICAL, layer
        assert status_of(results, f"{layer}/binance") is Status.OK, layer
    detail = next(r.detail for r in results if r.scope == "bronze/kraken")
    assert "feed is dead" in detail  # Kafka has nothing newer: the feed, not the Bronze job


def test_a_deleted_silver_row_turns_conservation_critical_naming_the_short_side(spark, pipeline):
    env = pipeline.env
    victim = env.read(spark, silver_table("binance")).select("message_id").first()
    assert victim is not None
    injected = time.time()
    DeltaTable.forPath(spark, env.table_path(silver_table("binance"))).delete(
        F.col("message_id") == victim["message_id"]
    )
    results = pipeline.check(checks.CONSERVATION)
    DETECTED["silver row deleted"] = time.time() - injected
    binance = next(r for r in results if r.scope == "binance")
    assert binance.status is Status.CRITICAL and binance.value == 1
    assert binance.detail.startswith("silver + dlq short by 1")
    assert status_of(results, "kraken") is Status.OK


def test_every_result_is_in_the_quality_checks_table(spark, pipeline):
    table = pipeline.env.read(spark, QUALITY_CHECKS_TABLE)
    critical = {
        (r["check"], r["scope"])
        for r in table.where("status = 'critical'").select("check", "scope").collect()
    }
    assert {
        ("dlq_rate", "binance"),
        ("duplicates", "gold/message_id"),
        ("freshness", "bronze/kraken"),
        ("conservation", "binance"),
    } <= critical
    assert table.where("status = 'ok'").count() > 0
