#!/usr/bin/env python3
"""Pipeline benchmark (not part of the test run). Prints one table; keep its format stable.

(a) Bronze ingest rate vs Kafka's own ConsumerPerformance and vs Spark's Kafka source into `noop`, into
    plain Parquet and into Delta's own sink, on the same topic, same broker, same run, interleaved.
(b) End-to-end latency (trade time -> Silver, -> Gold commit) p50/p99 at fixed offered rates (default
    100, 2,500 and 5,000 trades/s in total, half per exchange) with `k2 local`'s triggers, all five jobs in
    one Spark application as `k2 local` runs them; whether the rate was sustained.
(c) Gold's dedup state (rows and bytes) sampled through the run: bounded by the watermark, it must
    stay flat once the run is longer than twice the watermark.
(f) Seconds from starting `k2 local` (synthetic feed, fresh data folder, warm caches) to the first
    row in Bronze, Silver and Gold, with the JVMs' class-data archives (the default) and without,
    interleaved round by round.
(p) Where a micro-batch's seconds go, per job, at the lowest rate of (b) (default 100 trades/s):
    medians of Spark's StreamingQueryProgress durationMs (addBatch, commitOffsets, getBatch,
    latestOffset, queryPlanning, walCommit, triggerExecution) over the batches that read rows, the
    foreachBatch steps of Silver and Gold (their Delta write + commit among them), and batches run
    per minute with and without rows.

The load average is reported at the start and end of each section: the machine may be shared.

    hack/bench-pipeline.sh [--records 1000000] [--rates 100,2500,5000] [--duration 600]
                           [--watermark "2 minutes"] [--skip-ingest] [--skip-first-gold]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from paced_load import LoadStats, run_paced_load

from spark_jobs.contracts import (
    EXCHANGES,
    GOLD_TABLE,
    JOBS,
    bronze_table,
    raw_topic,
    silver_table,
    value_subject,
    with_rejected_topics,
)
from spark_jobs.feeds import run_feed
from spark_jobs.job_config import JobConfig
from spark_jobs.local_infra.class_archive import DEFAULT_CACHE_DIR as ARCHIVE_DIR
from spark_jobs.local_infra.class_archive import SWITCH_ENV
from spark_jobs.local_infra.installs import kafka_home
from spark_jobs.local_infra.java import default_java
from spark_jobs.local_infra.kafka_broker import KafkaBroker
from spark_jobs.local_infra.ports import free_port
from spark_jobs.local_infra.schema_registry import SchemaRegistry, register_trade_schemas
from spark_jobs.metrics import bucket_quantile

ROWS: list[tuple[str, str]] = []


def report(metric: str, value: Any) -> None:
    ROWS.append((metric, f"{value:.3f}" if isinstance(value, float) else str(value)))
    print(f"  {metric} = {ROWS[-1][1]}", flush=True)


def report_load(section: str, when: str) -> None:
    report(f"{section}.load_average_1m_{when}", round(os.getloadavg()[0], 2))


#: StreamingQueryProgress.durationMs keys the profile (p) reports, in this order.
PROGRESS_KEYS = (
    "triggerExecution", "latestOffset", "getBatch", "queryPlanning", "addBatch", "walCommit", "commitOffsets",
)  # fmt: skip


class BatchStepLog(logging.Handler):
    """Collects the ``steps`` of the Silver and Gold writers' "batch committed" log lines, per job."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.steps: dict[str, list[dict[str, float]]] = {}
        self.active = False

    def emit(self, record: logging.LogRecord) -> None:
        steps = record.__dict__.get("steps")
        if self.active and record.getMessage() == "batch committed" and isinstance(steps, dict):
            self.steps.setdefault(str(record.__dict__.get("job")), []).append(steps)


def report_profile(jobs: list[Any], step_log: BatchStepLog, window_seconds: float) -> None:
    """(p): per job, the median durationMs of the batches that read rows (Spark keeps the last 100
    progress reports per query), the median foreachBatch steps, and batches per minute."""
    for job in jobs:
        name = job.config.job_name
        progress = [p for p in job.query.recentProgress if p.get("durationMs")]
        with_rows = [p for p in progress if p["numInputRows"]]
        for key in PROGRESS_KEYS:
            values = [p["durationMs"].get(key) for p in with_rows if p["durationMs"].get(key) is not None]
            report(f"p.{name}.{key}_ms", int(statistics.median(values)) if values else "-")
        report(f"p.{name}.input_rows_per_batch", int(statistics.median(p["numInputRows"] for p in with_rows))
               if with_rows else "-")  # fmt: skip
        for step in sorted({k for steps in step_log.steps.get(name, []) for k in steps}):
            values = [steps[step] for steps in step_log.steps.get(name, []) if step in steps]
            report(f"p.{name}.step.{step}_ms", int(1000 * statistics.median(values)))
        recent = [p for p in progress if _age_seconds(p) <= window_seconds]
        minutes = window_seconds / 60
        report(
            f"p.{name}.batches_with_rows_per_min",
            round(sum(1 for p in recent if p["numInputRows"]) / minutes, 1),
        )
        report(f"p.{name}.batches_without_rows_per_min",
               round(sum(1 for p in recent if not p["numInputRows"]) / minutes, 1))  # fmt: skip


def _age_seconds(progress: dict[str, Any]) -> float:
    from datetime import datetime

    started = datetime.fromisoformat(progress["timestamp"].replace("Z", "+00:00")).timestamp()
    return time.time() - started


def first_commit_with_rows(table_dir: Path) -> bool:
    """Whether a table's Delta log holds a commit that added a data file."""
    log_dir = table_dir / "_delta_log"
    if not log_dir.is_dir():
        return False
    for commit in sorted(log_dir.glob("*.json")):
        try:
            if '"add"' in commit.read_text():
                return True
        except OSError:
            continue
    return False


def first_rows(work: Path, timeout: float, env: dict[str, str]) -> dict[str, float]:
    """One `k2 local --source synthetic --fresh` as a user starts it: seconds until the first row lands in
    Bronze, Silver and Gold (a Delta commit that adds a file), then Ctrl-C (SIGINT)."""
    data_dir = work / "first-gold"
    tables = data_dir / "tables"
    watched = {
        "bronze": tables / bronze_table("binance"),
        "silver": tables / silver_table("binance"),
        "gold": tables / GOLD_TABLE,
    }
    shutil.rmtree(data_dir, ignore_errors=True)  # an earlier round's tables must not count
    k2 = Path(sys.executable).parent / "k2"
    command = [str(k2), "local", "--source", "synthetic", "--fresh", "--data-dir", str(data_dir),
               "--duration", str(timeout), "--drain-timeout", "30"]  # fmt: skip
    output = (work / "first-gold.log").open("ab")
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               start_new_session=True, env={**os.environ, **env})  # fmt: skip
    seen: dict[str, float] = {}
    try:
        while len(seen) < len(watched) and time.monotonic() - started < timeout and process.poll() is None:
            for layer, table in watched.items():
                if layer not in seen and first_commit_with_rows(table):
                    seen[layer] = time.monotonic() - started
            time.sleep(0.25)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(240)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # its own session: only what this bench started
                process.wait(30)
    return seen


def bench_first_gold(work: Path, timeout: float, rounds: int) -> None:
    """(f): first rows with the JVMs' class-data archives (as `k2 local` starts by default) and without
    (K2_CLASS_ARCHIVES=off), interleaved round by round. A run that had to write the archives first (a
    cold cache) is reported on its own row, not in the medians."""
    results: dict[str, list[dict[str, float]]] = {"": [], "_no_class_archives": []}
    for round_index in range(rounds):
        modes = ["", "_no_class_archives"] if round_index % 2 == 0 else ["_no_class_archives", ""]
        for mode in modes:
            before = sorted(ARCHIVE_DIR.glob("*.jsa")) if ARCHIVE_DIR.is_dir() else []
            seen = first_rows(work, timeout, {SWITCH_ENV: "off"} if mode else {})
            wrote = not mode and sorted(ARCHIVE_DIR.glob("*.jsa")) != before
            label = f"round {round_index + 1}{mode or ' (class archives)'}{' wrote them' if wrote else ''}"
            print(f"  {label}: " + ", ".join(f"{k} {v:.1f} s" for k, v in seen.items()), flush=True)
            if wrote:
                report("f.first_gold_row_seconds_writing_archives", round(seen.get("gold", timeout), 1))
                seen = first_rows(work, timeout, {})  # the round's measurement, now with the archives
            results[mode].append(seen)
    for mode, runs in results.items():
        for layer in ("bronze", "silver", "gold"):
            values = [run[layer] for run in runs if layer in run]
            value = round(statistics.median(values), 1) if len(values) == len(runs) else f">{timeout:.0f}"
            report(f"f.first_{layer}_row_seconds{mode}", value)
    gold = {mode: [run.get("gold", timeout) for run in runs] for mode, runs in results.items()}
    report(
        "f.ratio_first_gold_archives_vs_none",
        statistics.median(gold[""]) / statistics.median(gold["_no_class_archives"]),
    )


def consumer_performance(bootstrap_servers: str, topic: str, records: int) -> tuple[float, float]:
    """(records/s, records/s while fetching) of org.apache.kafka.tools.ConsumerPerformance reading the
    whole topic; the first includes joining the consumer group, the second does not."""
    command = [
        default_java(17), "-Xmx512m", "-cp", f"{kafka_home() / 'libs'}/*",
        "org.apache.kafka.tools.ConsumerPerformance",
        "--bootstrap-server", bootstrap_servers, "--topic", topic,
        "--messages", str(records), "--timeout", "120000",
    ]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600).stdout
    lines = [line for line in out.splitlines() if line.strip()]
    header, values = [h.strip() for h in lines[-2].split(",")], [v.strip() for v in lines[-1].split(",")]
    row = dict(zip(header, values, strict=False))
    print(f"  ConsumerPerformance: {row}")
    return float(row["nMsg.sec"]), float(row["fetch.nMsg.sec"])


def config_for(layer: str, exchange: str | None, broker: KafkaBroker, registry: SchemaRegistry,
               root: Path, topics: dict[str, str], **overrides: Any) -> JobConfig:  # fmt: skip
    return JobConfig(
        layer=layer, exchange=exchange, kafka_bootstrap_servers=broker.bootstrap_servers,
        schema_registry_url=registry.url, tables_uri=(root / "tables").as_uri(),
        checkpoints_uri=(root / "checkpoints").as_uri(), metrics_port=0, metrics_bind_address="127.0.0.1",
        kafka_topic=topics[exchange] if exchange else None, **overrides,
    )  # fmt: skip


def bronze_pass(spark: Any, config: JobConfig, records: int) -> tuple[float, float, int]:
    """One Bronze query (the job's own code and defaults, availableNow) over the whole topic:
    (records/s wall incl. query start, records/s inside its batches, batches)."""
    from spark_jobs.jobs.runner import start_jobs, stop_jobs

    started = time.monotonic()
    (job,) = start_jobs(spark, [config], serve_metrics=False)
    job.query.awaitTermination()
    wall = time.monotonic() - started
    batches = [p for p in job.query.recentProgress if p["numInputRows"]]
    processing = sum(p["durationMs"]["triggerExecution"] for p in batches) / 1000
    stop_jobs(spark, [job])
    rates = f"{records / wall:,.0f} rec/s wall, {records / processing:,.0f} inside {len(batches)} batches"
    print(f"  bronze pass: {rates}", flush=True)
    return records / wall, records / processing, len(batches)


def sink_pass(spark: Any, config: JobConfig, records: int, sink: str) -> float:
    """Records/s of the same Kafka source and Bronze projection into Spark's `noop` sink (what Spark
    reaches before any Parquet or Delta work), its plain `parquet` file sink or Delta's own sink, both
    partitioned like Bronze (what the file format costs, and what Delta adds to it): they split
    Bronze's gap to ConsumerPerformance."""
    from spark_jobs.jobs.stream_options import kafka_source_options
    from spark_jobs.jobs.table_schemas import BRONZE_PARTITION_COLUMNS
    from spark_jobs.transforms.bronze import to_bronze

    source = spark.readStream.format("kafka").options(**kafka_source_options(config)).load()
    started = time.monotonic()
    writer = to_bronze(source).writeStream.format(sink).option("checkpointLocation", config.checkpoint_uri)
    if sink in ("parquet", "delta"):
        files = config.checkpoint_uri + "-files"
        writer = writer.partitionBy(*BRONZE_PARTITION_COLUMNS).option("path", files)
    query = writer.trigger(availableNow=True).start()
    query.awaitTermination()
    rate = records / (time.monotonic() - started)
    print(f"  {sink} pass: {rate:,.0f} rec/s wall", flush=True)
    return rate


def bench_bronze_ingest(spark: Any, broker: KafkaBroker, registry: SchemaRegistry, work: Path,
                        records: int, warmup_passes: int, passes: int) -> None:  # fmt: skip
    """Bronze and Spark's Kafka source into three plain sinks (`noop`, `parquet`, `delta`) each read the
    same topic `warmup_passes + passes` times into fresh tables, interleaved round by round so that a
    slower minute of the machine and the JIT's warm-up hit all four alike. A Bronze job runs for days,
    so its steady state is a JIT-compiled JVM: the first rounds (Bronze's first pass is reported) warm
    it up; the medians of the rest are compared with each other and with as many ConsumerPerformance runs."""
    topic = f"{raw_topic('binance')}.bench-ingest"
    broker.create_topics(with_rejected_topics([topic]), partitions=3)
    stats = run_feed(["binance"], "synthetic", 0, None, broker.bootstrap_servers, registry.url,
                     limit=records, topics={"binance": topic})  # fmt: skip
    print(f"(a) filled {topic} with {stats.produced} trades in {stats.elapsed_seconds:.1f} s")
    kafka = [consumer_performance(broker.bootstrap_servers, topic, records) for _ in range(passes)]
    results = []
    sink_rates: dict[str, list[float]] = {"noop": [], "parquet": [], "delta": []}
    for n in range(warmup_passes + passes):
        config = config_for("bronze", "binance", broker, registry, work / "ingest" / str(n),
                            {"binance": topic}, trigger_interval="availableNow")  # fmt: skip
        results.append(bronze_pass(spark, config, records))
        for sink, rates in sink_rates.items():
            folder = work / sink / str(n)
            config = config_for("bronze", "binance", broker, registry, folder, {"binance": topic})
            rate = sink_pass(spark, config, records, sink)
            if n >= warmup_passes:
                rates.append(rate)
    measured = results[warmup_passes:]
    noop = statistics.median(sink_rates["noop"])
    parquet = statistics.median(sink_rates["parquet"])
    delta = statistics.median(sink_rates["delta"])
    kafka_rate = statistics.median(k[0] for k in kafka)
    kafka_fetch_rate = statistics.median(k[1] for k in kafka)
    wall = statistics.median(r[0] for r in measured)
    in_batches = statistics.median(r[1] for r in measured)
    report("a.records", records)
    report("a.consumer_performance_records_per_s", kafka_rate)
    report("a.bronze_records_per_s_wall", wall)
    report("a.bronze_records_per_s_in_batches", in_batches)
    report("a.ratio_bronze_wall_vs_consumer_performance", wall / kafka_rate)
    report("a.ratio_bronze_batches_vs_consumer_performance", in_batches / kafka_rate)
    report("a.consumer_performance_fetch_records_per_s", kafka_fetch_rate)
    report("a.ratio_bronze_batches_vs_consumer_performance_fetch", in_batches / kafka_fetch_rate)
    report("a.bronze_first_pass_records_per_s_wall", results[0][0])
    report("a.spark_kafka_to_noop_records_per_s_wall", noop)
    report("a.ratio_spark_noop_vs_consumer_performance", noop / kafka_rate)
    report("a.ratio_bronze_wall_vs_spark_noop", wall / noop)
    report("a.spark_kafka_to_parquet_records_per_s_wall", parquet)
    report("a.ratio_spark_parquet_vs_spark_noop", parquet / noop)
    report("a.ratio_bronze_wall_vs_spark_parquet", wall / parquet)
    report("a.spark_kafka_to_delta_records_per_s_wall", delta)
    report("a.ratio_spark_delta_vs_spark_parquet", delta / parquet)
    report("a.ratio_bronze_wall_vs_spark_delta", wall / delta)
    report("a.bronze_batches_per_pass", measured[-1][2])
    report("a.passes_warmup_measured", f"{warmup_passes}+{passes}")


def committed(job: Any) -> int:
    return int(job.metrics.value("k2_records_processed_total"))


def mean_batch_seconds(job: Any) -> float:
    count = job.metrics.value("k2_batch_processing_duration_seconds_count")
    return job.metrics.value("k2_batch_processing_duration_seconds_sum") / count if count else float("nan")


#: A rate is sustained when Gold falls behind by less than this many seconds per minute of load.
SUSTAINED_LAG_GROWTH = 3.0


def lag_growth_per_minute(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of Gold's lag over the measured window: ~0 when the jobs keep up."""
    if len(samples) < 2:
        return float("nan")
    mean_t = statistics.fmean(t for t, _ in samples)
    mean_lag = statistics.fmean(lag for _, lag in samples)
    spread = sum((t - mean_t) ** 2 for t, _ in samples)
    return sum((t - mean_t) * (lag - mean_lag) for t, lag in samples) / spread if spread else float("nan")


def window_quantiles(jobs: list[Any], baselines: dict[str, dict[float, float]]) -> tuple[float, float]:
    """p50/p99 of the jobs' e2e latency histograms, counting only what they recorded since the baseline."""
    window: dict[float, float] = {}
    for job in jobs:
        base = baselines.get(job.config.job_name, {})
        for le, count in job.metrics.latency_buckets():
            window[le] = window.get(le, 0.0) + count - base.get(le, 0.0)
    buckets = sorted(window.items())
    return bucket_quantile(0.5, buckets) or float("nan"), bucket_quantile(0.99, buckets) or float("nan")


def triggers_by_layer(spec: str | None) -> dict[str, str]:
    """``--trigger``: one interval for every layer ("2 seconds") or per layer
    ("bronze=1 second,silver=1 second,gold=2 seconds"); empty = what `k2 local` uses."""
    from spark_jobs.local.pipeline import BRONZE_TRIGGER, TRIGGER

    if not spec:
        return {"bronze": BRONZE_TRIGGER, "silver": TRIGGER, "gold": TRIGGER}
    if "=" not in spec:
        return {layer: spec for layer in ("bronze", "silver", "gold")}
    return dict(part.strip().split("=", 1) for part in spec.split(","))  # type: ignore[misc]


def bench_latency(spark: Any, broker: KafkaBroker, registry: SchemaRegistry, work: Path, rate: int,
                  duration: float, watermark: str, warmup: float,
                  step_log: BatchStepLog | None = None,
                  triggers: dict[str, str] | None = None) -> None:  # fmt: skip
    """All five jobs with `k2 local`'s triggers (or ``triggers``) under `rate` trades/s (half per
    exchange) for `warmup + duration` seconds; latency is what the layers recorded after the warm-up.
    The rate is sustained when Gold's lag (seconds of load not yet in Gold) does not grow over the
    measured window and Gold drains the rest once the load stops."""
    from spark_jobs.jobs.runner import start_jobs, stop_jobs

    suffix = f".bench-{rate}"
    topics: dict[str, str] = {e: raw_topic(e) + suffix for e in EXCHANGES}
    broker.create_topics(with_rejected_topics(topics.values()), partitions=3)
    ids = register_trade_schemas(registry.url, topics)
    schema_ids = {e: ids[value_subject(t)] for e, t in topics.items()}
    root = work / f"latency-{rate}"
    configs = [config_for(layer, exchange, broker, registry, root, topics, gold_watermark=watermark,
                          **({"trigger_interval": triggers[layer]} if layer in (triggers or {}) else {}))
               for _, layer, exchange in JOBS]  # fmt: skip
    jobs = start_jobs(spark, configs)
    by_name = {j.config.job_name: j for j in jobs}
    gold, silvers = by_name["gold"], [by_name[f"silver-{e}"] for e in EXCHANGES]
    load_result: dict[str, LoadStats] = {}
    load = threading.Thread(
        target=lambda: load_result.update(stats=run_paced_load(
            broker.bootstrap_servers, topics, schema_ids, rate / len(EXCHANGES), warmup + duration,
            seed=rate)),
        daemon=True,
    )  # fmt: skip
    started = time.monotonic()
    load.start()
    baselines: dict[str, dict[float, float]] = {}
    state: list[tuple[float, int, int]] = []
    gold_lag: list[tuple[float, float]] = []  # (minutes of load, seconds of load not yet in Gold)
    while load.is_alive():
        load.join(15)
        elapsed = time.monotonic() - started
        if not baselines and elapsed >= warmup:
            baselines = {j.config.job_name: dict(j.metrics.latency_buckets()) for j in jobs}
            if step_log is not None:
                step_log.active = True
        progress: dict[str, Any] = gold.query.lastProgress or {}
        rows = {name: committed(job) for name, job in by_name.items()}
        if elapsed >= warmup:
            gold_lag.append((elapsed / 60, elapsed - rows["gold"] / rate))
        for op in progress.get("stateOperators", []):
            if elapsed >= warmup:
                state.append((elapsed, int(op["numRowsTotal"]), int(op["memoryUsedBytes"])))
            print(f"  t={elapsed:5.0f}s committed {rows} gold state rows {op['numRowsTotal']} "
                  f"bytes {op['memoryUsedBytes']}", flush=True)  # fmt: skip
    load_stats = load_result["stats"]
    produced = load_stats.produced
    bronze_lag = produced - sum(committed(by_name[f"bronze-{e}"]) for e in EXCHANGES)
    gold_p50, gold_p99 = window_quantiles([gold], baselines)
    silver_p50, silver_p99 = window_quantiles(silvers, baselines)
    load_ended = time.monotonic()
    if step_log is not None:
        step_log.active = False
        report_profile(jobs, step_log, min(duration, load_ended - started - warmup))
    drain_limit = max(180.0, duration / 2)
    while committed(gold) < produced and time.monotonic() - load_ended < drain_limit:
        time.sleep(1)
    drained = committed(gold) >= produced
    drain_seconds = time.monotonic() - load_ended
    batch_seconds = {name: mean_batch_seconds(job) for name, job in by_name.items()}
    stop_jobs(spark, jobs)
    tag = f"b.rate_{rate}"
    report(f"{tag}.offered_trades_per_s", rate)
    report(f"{tag}.produced", produced)
    report(f"{tag}.achieved_produce_per_s", produced / load_stats.elapsed_seconds)
    report(f"{tag}.bronze_lag_at_end_records", int(bronze_lag))
    report(f"{tag}.e2e_p50_seconds", gold_p50)
    report(f"{tag}.e2e_p99_seconds", gold_p99)
    report(f"{tag}.silver_e2e_p50_seconds", silver_p50)
    report(f"{tag}.silver_e2e_p99_seconds", silver_p99)
    report(f"{tag}.gold_drain_seconds", drain_seconds if drained else f">{drain_limit:.0f} (not drained)")
    growth = lag_growth_per_minute(gold_lag)
    report(f"{tag}.gold_lag_growth_seconds_per_minute", growth)
    report(f"{tag}.sustained", "yes" if drained and growth < SUSTAINED_LAG_GROWTH else "no")
    for name, seconds in batch_seconds.items():
        report(f"{tag}.mean_batch_seconds.{name}", seconds)
    if state:
        second_half = [s for s in state if s[0] >= warmup + duration / 2] or state
        report(f"c.rate_{rate}.state_rows_first_sample", state[0][1])
        report(f"c.rate_{rate}.state_rows_second_half_min", min(s[1] for s in second_half))
        report(f"c.rate_{rate}.state_rows_second_half_max", max(s[1] for s in second_half))
        report(f"c.rate_{rate}.state_bytes_second_half_max", max(s[2] for s in second_half))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=1_000_000, help="(a) records in the ingest topic")
    parser.add_argument("--warmup-passes", type=int, default=4, help="(a) Bronze passes before measuring")
    parser.add_argument("--passes", type=int, default=3, help="(a) measured passes (median) of each tool")
    parser.add_argument("--rates", default="100,2500,5000", help="(b) offered trades/s, comma-separated")
    parser.add_argument("--duration", type=float, default=600, help="(b, c) seconds measured per rate")
    parser.add_argument("--warmup", type=float, default=120, help="(b) seconds of load before measuring")
    parser.add_argument("--watermark", default="2 minutes", help="(c) Gold watermark")
    parser.add_argument("--skip-ingest", action="store_true", help="skip (a)")
    parser.add_argument("--skip-first-gold", action="store_true", help="skip (f)")
    parser.add_argument("--first-gold-timeout", type=float, default=300, help="(f) seconds to wait at most")
    parser.add_argument("--first-gold-rounds", type=int, default=2,
                        help="(f) rounds, each one run with class archives and one without")  # fmt: skip
    parser.add_argument("--trigger", help='(b) not the defaults: "2 seconds" or "bronze=1 second,gold=..."')
    parser.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                        help="extra Spark setting for (a, b): weigh an option")  # fmt: skip
    args = parser.parse_args()
    from spark_jobs.logging_setup import configure_json_logging

    configure_json_logging(logging.WARNING)  # the jobs' INFO lines would drown the table
    step_log = BatchStepLog()
    logging.getLogger("k2.jobs").addHandler(step_log)
    logging.getLogger("k2.jobs").setLevel(logging.INFO)
    logging.getLogger("k2.jobs").propagate = False
    rates = [int(r) for r in args.rates.split(",") if r]  # --rates "" skips (b, c, p)

    from spark_jobs.jobs.runner import session_conf
    from spark_jobs.spark_session import build_spark_session

    with tempfile.TemporaryDirectory(prefix="k2-bench-pipeline-") as tmp:
        work = Path(tmp)
        if not args.skip_first_gold:
            print("(f) k2 local --source synthetic --fresh: seconds to the first row per layer")
            report_load("f", "start")
            bench_first_gold(work, args.first_gold_timeout, args.first_gold_rounds)
            report_load("f", "end")
        broker = KafkaBroker(work / "kafka", port=free_port(), controller_port=free_port(), heap="1g").start()
        registry = SchemaRegistry(work / "registry", port=free_port(), management_port=free_port()).start()
        spark = None
        try:
            example = config_for("gold", None, broker, registry, work, {})
            extra = dict(item.split("=", 1) for item in args.conf)
            spark = build_spark_session("k2-bench", driver_memory="2g",
                                        extra_conf={**session_conf(example), "spark.scheduler.mode": "FAIR",
                                                    "spark.ui.enabled": "false", **extra})  # fmt: skip
            spark.sparkContext.setLogLevel("ERROR")
            if not args.skip_ingest:
                report_load("a", "start")
                bench_bronze_ingest(
                    spark, broker, registry, work, args.records, args.warmup_passes, args.passes
                )
                report_load("a", "end")
            for rate in rates:
                print(f"(b, c) offered {rate} trades/s for {args.duration:.0f} s, watermark {args.watermark}")
                report_load(f"b.rate_{rate}", "start")
                profile = step_log if rate == min(rates) else None
                bench_latency(spark, broker, registry, work, rate, args.duration, args.watermark, args.warmup,
                              profile, triggers_by_layer(args.trigger))  # fmt: skip
                report_load(f"b.rate_{rate}", "end")
        finally:
            if spark is not None:
                spark.stop()
            registry.stop()
            broker.stop()
    print("\nmetric                                              value")
    for metric, value in ROWS:
        print(f"{metric:50}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
