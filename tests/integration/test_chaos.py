"""Crashes mid-stream: each job SIGKILLed while a batch is in flight (its offsets written, its commit
not) and restarted through the real entrypoint (``python -m spark_jobs.jobs``, one Spark application
per process, as in a driver pod), and the broker restarted under a running Bronze query. The data
holds bad records and trade ids shared by several symbols. After recovery every produced trade is in
each layer exactly once and every bad record in the DLQ once (counted against the produced sets, not
against another table)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from spark_jobs.avro_schemas import load_schema
from spark_jobs.contracts import DLQ_TABLE, EXCHANGES, GOLD_TABLE, bronze_table, silver_table
from spark_jobs.job_config import JobConfig
from spark_jobs.synthetic_trades import CryptoDataFactory, encode_confluent
from spark_jobs.transforms.dlq import DlqErrorType
from tests.fixtures.pipeline_fixtures import PipelineEnv, expected_message_id, live_trades, now_factory

pytestmark = [pytest.mark.integration, pytest.mark.chaos, pytest.mark.slow]

TRADES_PER_EXCHANGE = 240
REPO_ROOT = Path(__file__).resolve().parents[2]


def launch(env: PipelineEnv, config: JobConfig, attempt: str) -> subprocess.Popen[bytes]:
    """The job as a driver pod runs it, in its own process group (python + its Spark JVM)."""
    command = [
        sys.executable,
        "-m",
        "spark_jobs.jobs",
        "--job",
        config.layer,
        "--config",
        str(env.write_config(config)),
    ]
    if config.exchange:
        command += ["--exchange", config.exchange]
    log = (env.root / f"{config.job_name}.{attempt}.log").open("wb")
    return subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def delta_versions(table_path: str) -> int:
    log_dir = Path(table_path) / "_delta_log"
    return len(list(log_dir.glob("*.json"))) if log_dir.is_dir() else 0


def batch_in_flight(checkpoint: Path) -> int | None:
    """The newest batch whose offsets are written but whose commit is not (a half-committed batch)."""
    offsets = [int(p.name) for p in (checkpoint / "offsets").glob("[0-9]*")]
    if not offsets:
        return None
    newest = max(offsets)
    return None if (checkpoint / "commits" / str(newest)).exists() else newest


def kill_mid_stream(
    env: PipelineEnv, procs: dict[str, subprocess.Popen[bytes]], tables: dict[str, str]
) -> dict[str, int | None]:
    """SIGKILL each job's whole process group (python + JVM) once it has committed a first batch and
    is inside a later one (offsets/N written, commits/N not), wherever that batch is: in its reads,
    between its Silver and DLQ commits, in its MERGE. Returns job -> the batch left half-committed
    after the kill (None when the commit slipped in before the kill landed)."""
    pending = dict(procs)
    half_committed: dict[str, int | None] = {}
    deadline = time.monotonic() + 900
    while pending and time.monotonic() < deadline:
        for name, proc in list(pending.items()):
            assert proc.poll() is None, f"{name} exited ({proc.returncode}) before it could be killed"
            checkpoint = env.root / "checkpoints" / name
            if delta_versions(env.table_path(tables[name])) < 2:  # version 0 = created, 1 = first batch
                continue
            if batch_in_flight(checkpoint) is not None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)
                half_committed[name] = batch_in_flight(checkpoint)
                del pending[name]
        time.sleep(0.05)
    assert not pending, f"never caught inside a batch: {sorted(pending)}"
    return half_committed


def stop_gracefully(procs: dict[str, subprocess.Popen[bytes]], env: PipelineEnv) -> None:
    for proc in procs.values():
        if proc.poll() is None:  # like a pod's stop: SIGTERM to the entrypoint only, not its JVM
            os.kill(proc.pid, signal.SIGTERM)
    for name, proc in procs.items():
        try:
            code = proc.wait(180)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        log = (env.root / f"{name}.restart.log").read_text(errors="replace")
        assert code == 0, f"{name} exited {code} after SIGTERM:\n{log[-3000:]}"


def wait_for(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(2)


JOB_TABLES = {
    **{f"bronze-{e}": bronze_table(e) for e in EXCHANGES},
    **{f"silver-{e}": silver_table(e) for e in EXCHANGES},
    "gold": GOLD_TABLE,
}


# Its own waits (kills, then up to 900 s for Gold) decide; the project-wide 900 s timeout would cut them.
@pytest.mark.timeout(1800)
def test_each_job_killed_mid_stream_then_restarted_loses_and_duplicates_nothing(spark, pipeline_env):
    """All five jobs run as separate processes (as five driver pods would); each is SIGKILLed inside
    a batch after its first commit (at least one kill must leave offsets/N without commits/N), then
    all five are started again from their checkpoints and run until Gold holds every produced
    trade; then they are stopped with SIGTERM. Silver, the DLQ and Gold must then be exact."""
    env = pipeline_env
    factory = now_factory(seed=5)
    expected: dict[str, set[str]] = {}
    expected_dlq: dict[str, Counter[str]] = {}
    for exchange in EXCHANGES:
        trades = live_trades(factory, exchange, TRADES_PER_EXCHANGE)
        bad = bad_records(factory, env, exchange)
        half = len(trades) // 2  # bad records mid-stream, inside batches that get interrupted
        env.produce_trades(exchange, trades[:half])
        env.produce_values(exchange, [(b"BAD", value) for value, _ in bad])
        env.produce_trades(exchange, trades[half:])
        expected[exchange] = {expected_message_id(exchange, t) for t in trades}
        expected_dlq[exchange] = Counter(str(error) for _, error in bad)
        shared = len({t["trade_id"] for t in trades}) < len({(t["symbol"], t["trade_id"]) for t in trades})
        assert shared, "the data must have trade ids that several symbols share"
    # Small batches, so every job has several to be interrupted in.
    configs = env.configs(trigger="2 seconds", max_offsets_per_trigger=60, max_files_per_trigger=1)

    first = {name: launch(env, config, "first") for name, config in configs.items()}
    try:
        half_committed = kill_mid_stream(env, first, JOB_TABLES)
    finally:
        for proc in first.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)

    left_half = {name: batch for name, batch in half_committed.items() if batch is not None}
    assert left_half, f"no kill landed between an offset write and its commit: {half_committed}"
    print(f"half-committed batches left by the kills: {left_half}")

    restarted = {name: launch(env, config, "restart") for name, config in configs.items()}
    try:
        everything = expected["binance"] | expected["kraken"]
        wait_for(lambda: env.read(spark, GOLD_TABLE).count() >= len(everything), 900, "gold to catch up")
    finally:
        stop_gracefully(restarted, env)

    dlq = env.read(spark, DLQ_TABLE)
    for exchange in EXCHANGES:
        produced = TRADES_PER_EXCHANGE + sum(expected_dlq[exchange].values())
        bronze = env.read(spark, bronze_table(exchange))
        offsets = bronze.select("partition", "offset").distinct().count()
        assert bronze.count() == offsets == produced, f"bronze-{exchange} lost or duplicated records"
        ids = [r.message_id for r in env.read(spark, silver_table(exchange)).select("message_id").collect()]
        assert len(ids) == len(set(ids)), f"silver-{exchange} duplicated rows"
        assert set(ids) == expected[exchange], f"silver-{exchange} lost rows"
        dead = dlq.where(F.col("exchange") == exchange).select(
            "kafka_partition", "kafka_offset", "error_type"
        )
        rows = dead.collect()
        assert len({(r.kafka_partition, r.kafka_offset) for r in rows}) == len(rows), (
            f"{exchange} DLQ doubled"
        )
        assert Counter(r.error_type for r in rows) == expected_dlq[exchange], f"{exchange} DLQ differs"
    ids = [r.message_id for r in env.read(spark, GOLD_TABLE).select("message_id").collect()]
    assert len(ids) == len(set(ids)), "gold duplicated rows"
    assert set(ids) == expected["binance"] | expected["kraken"], "gold lost rows"


def bad_records(
    factory: CryptoDataFactory, env: PipelineEnv, exchange: str
) -> list[tuple[bytes | None, DlqErrorType]]:
    """Bronze values Silver must dead-letter, with their error (a tombstone among them)."""
    schema_id = env.schema_ids[exchange]
    if exchange == "binance":
        invalid = factory.invalid_trade_records(schema_id, unknown_schema_id=999_999)
        return [(r.value, r.expected_error) for r in invalid]
    schema = load_schema("kraken_raw_trade")
    return [
        (None, DlqErrorType.BAD_MAGIC_BYTE),
        (encode_confluent(schema_id, schema, factory.kraken_raw_trade(side="x")), DlqErrorType.INVALID_SIDE),
        (
            encode_confluent(schema_id, schema, factory.kraken_raw_trade(quantity="0")),
            DlqErrorType.NON_POSITIVE_QUANTITY,
        ),
        (
            encode_confluent(schema_id, schema, factory.kraken_raw_trade(price="1.12345678901")),
            DlqErrorType.INVALID_DECIMAL,
        ),
    ]


def test_bronze_survives_a_broker_restart_mid_stream(spark, pipeline_env, kafka_broker):
    """The broker stops (SIGTERM) and comes back on the same port while Bronze runs with a 1-second
    trigger; records produced before and after all land exactly once. If the Kafka source gives up
    during the outage, restarting the query from its checkpoint must still give exactly once."""
    from spark_jobs.jobs.runner import start_jobs, stop_jobs

    env = pipeline_env
    config = env.configs(trigger="1 second")["bronze-binance"]
    factory = now_factory(seed=8)
    env.produce_trades("binance", live_trades(factory, "binance", 100))
    jobs = start_jobs(spark, [config])
    restarts = 0
    try:
        _wait_for_rows(spark, env, 100)
        kafka_broker.stop()
        time.sleep(3)
        restart_broker(kafka_broker)
        env.produce_trades("binance", live_trades(factory, "binance", 150))
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and env.read(spark, bronze_table("binance")).count() < 250:
            if not jobs[0].query.isActive:  # the source gave up during the outage: resume from the checkpoint
                stop_jobs(spark, jobs)
                jobs = start_jobs(spark, [config])
                restarts += 1
            time.sleep(2)
    finally:
        stop_jobs(spark, jobs)
    bronze = env.read(spark, bronze_table("binance"))
    assert bronze.count() == 250
    assert bronze.select("partition", "offset").distinct().count() == 250
    assert restarts <= 1
    assert bronze.where(F.col("value").isNull()).count() == 0


def restart_broker(broker, timeout: float = 120) -> None:
    """Start the broker again on its ports; they can stay unbindable for a while (connections in
    TIME_WAIT after the stop), which start() reports as "port already in use"."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            broker.start()
            return
        except RuntimeError as error:
            if "already in use" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(2)


def _wait_for_rows(spark, env: PipelineEnv, n: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while env.read(spark, bronze_table("binance")).count() < n:
        assert time.monotonic() < deadline, f"bronze did not reach {n} rows"
        time.sleep(1)
