"""`k2 local`, the README's first command, through its real entrypoint: its own Kafka broker, registry
and Spark application (five queries) in a subprocess, the synthetic feed with injected bad records,
then the summary. The tables it leaves are read back here with Delta, not taken from its output.

A folder of its own so that `make test` runs it last in the Spark group: it starts three JVMs of its
own, and beside the operator tier (load average 17 in one CI run) its first batches did not commit
within the drain timeout."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from spark_jobs.contracts import DLQ_TABLE, EXCHANGES, GOLD_TABLE, silver_table
from spark_jobs.local_infra.ports import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FEED_SECONDS = 30
DRAIN_SECONDS = 300


def jobs_log_tail(data_dir: Path, lines: int = 40) -> str:
    log = data_dir / "logs" / "jobs.jsonl"
    return "\n".join(log.read_text().splitlines()[-lines:]) if log.exists() else "(no jobs.jsonl)"


def run_k2_local(data_dir: Path) -> tuple[int, str]:
    """Run it to the end; on a hang, Ctrl-C (it stops its servers), then its process group."""
    k2 = Path(sys.executable).parent / "k2"
    command = [
        str(k2), "local", "--source", "synthetic", "--fresh", "--data-dir", str(data_dir),
        "--duration", str(FEED_SECONDS), "--drain-timeout", str(DRAIN_SECONDS),
        "--kafka-port", str(free_port()), "--registry-port", str(free_port()),
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True, env={**os.environ, "COLUMNS": "160"},
    )  # fmt: skip
    try:
        out, _ = process.communicate(timeout=FEED_SECONDS + DRAIN_SECONDS + 300)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
        try:
            out, _ = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # its own session: only what this test started
            out, _ = process.communicate()
        output = out.decode(errors="replace")[-4000:]
        pytest.fail(f"k2 local did not finish; output:\n{output}\njobs' log:\n{jobs_log_tail(data_dir)}")
    return process.returncode, out.decode(errors="replace")


def test_k2_local_runs_the_pipeline_to_gold_and_reports_it(spark, tmp_path: Path) -> None:
    data_dir = tmp_path / "k2-local"
    code, out = run_k2_local(data_dir)
    print(out[-6000:])
    assert code == 0, out[-4000:]
    assert "jobs did not drain" not in out, jobs_log_tail(data_dir)
    assert "FAIL" not in out and "not checked" not in out
    passed = [line.strip() for line in out.splitlines() if line.strip().startswith("OK ")]
    for check in (
        "DLQ holds only the injected bad records",
        *(f"{e}: bronze = silver + dlq" for e in EXCHANGES),
        "gold rows = distinct silver message_ids",
    ):
        assert any(check in line for line in passed), (check, passed)

    def read(table: str):
        return spark.read.format("delta").load(str(data_dir / "tables" / table))

    # the synthetic feed makes only valid trades: the DLQ holds exactly the bad records k2 local injected
    injected = json.loads((data_dir / "injected_bad_records.json").read_text())
    dlq = {r["error_type"]: r["count"] for r in read(DLQ_TABLE).groupBy("error_type").count().collect()}
    assert dlq == injected
    silver = read(silver_table(EXCHANGES[0])).unionByName(read(silver_table(EXCHANGES[1])))
    gold = read(GOLD_TABLE)
    key = ["exchange", "symbol", "trade_id"]
    gold_rows = gold.count()
    assert gold_rows > 0
    assert gold_rows == silver.select(*key).distinct().count() == gold.select(*key).distinct().count()
    assert set(r["exchange"] for r in gold.select("exchange").distinct().collect()) == set(EXCHANGES)
    assert gold.filter(F.col("trade_value_usd") <= 0).count() == 0

    # the jobs' structured logs: one JSON document per line, each batch with its job, layer and batch id
    lines = (data_dir / "logs" / "jobs.jsonl").read_text().splitlines()
    batches = [d for d in map(json.loads, lines) if d.get("message") == "batch committed"]
    assert {d["job"] for d in batches} >= {"silver-binance", "silver-kraken", "gold"}
    assert all({"layer", "batch_id"} <= d.keys() for d in batches)
