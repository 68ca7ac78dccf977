#!/usr/bin/env python3
"""Pipeline benchmark (not part of the test run). Prints one table; keep its format stable.

(a) Bronze ingest rate vs Kafka's own ConsumerPerformance on the same topic, same broker, same run.
(b) End-to-end latency (trade time -> Gold commit) p50/p99 at fixed offered rates (default 5,000
    trades/s in total, half per exchange) with the default triggers, all five jobs in one Spark
    application as `k2 local` runs them; whether Bronze kept up (lag at the end).
(c) Gold's dedup state (rows and bytes) sampled through the run: bounded by the watermark, it must
    stay flat once the run is longer than the watermark.

    hack/bench-pipeline.sh [--records 200000] [--rates 5000] [--duration 600] [--watermark "2 minutes"]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from spark_jobs.contracts import EXCHANGES, JOBS, raw_topic
from spark_jobs.feeds import run_feed
from spark_jobs.job_config import JobConfig
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


def consumer_performance(bootstrap_servers: str, topic: str, records: int) -> float:
    """Records/s of org.apache.kafka.tools.ConsumerPerformance reading the whole topic."""
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
    return float(row["nMsg.sec"])


def config_for(layer: str, exchange: str | None, broker: KafkaBroker, registry: SchemaRegistry,
               root: Path, topics: dict[str, str], **overrides: Any) -> JobConfig:  # fmt: skip
    return JobConfig(
        layer=layer, exchange=exchange, kafka_bootstrap_servers=broker.bootstrap_servers,
        schema_registry_url=registry.url, tables_uri=(root / "tables").as_uri(),
        checkpoints_uri=(root / "checkpoints").as_uri(), metrics_port=0, metrics_bind_address="127.0.0.1",
        kafka_topic=topics[exchange] if exchange else None, **overrides,
    )  # fmt: skip


def bench_bronze_ingest(
    spark: Any, broker: KafkaBroker, registry: SchemaRegistry, work: Path, records: int
) -> None:
    from spark_jobs.jobs.runner import start_jobs, stop_jobs

    topic = f"{raw_topic('binance')}.bench-ingest"
    broker.create_topics([topic], partitions=3)
    stats = run_feed(["binance"], "synthetic", 0, None, broker.bootstrap_servers, registry.url,
                     limit=records, topics={"binance": topic})  # fmt: skip
    print(f"(a) filled {topic} with {stats.produced} trades in {stats.elapsed_seconds:.1f} s")
    kafka_rate = consumer_performance(broker.bootstrap_servers, topic, records)
    config = config_for("bronze", "binance", broker, registry, work / "ingest", {"binance": topic},
                        trigger_interval="availableNow")  # fmt: skip
    started = time.monotonic()
    (job,) = start_jobs(spark, [config])
    job.query.awaitTermination()
    wall = time.monotonic() - started
    batches = [p for p in job.query.recentProgress if p["numInputRows"]]
    processing = sum(p["durationMs"]["triggerExecution"] for p in batches) / 1000
    stop_jobs(spark, [job])
    report("a.records", records)
    report("a.consumer_performance_records_per_s", kafka_rate)
    report("a.bronze_records_per_s_wall", records / wall)
    report("a.bronze_records_per_s_in_batches", records / processing)
    report("a.ratio_bronze_wall_vs_consumer_performance", records / wall / kafka_rate)
    report("a.ratio_bronze_batches_vs_consumer_performance", records / processing / kafka_rate)


def bench_latency(spark: Any, broker: KafkaBroker, registry: SchemaRegistry, work: Path, rate: int,
                  duration: float, watermark: str, warmup: float) -> None:  # fmt: skip
    from spark_jobs.jobs.runner import start_jobs, stop_jobs

    suffix = f".bench-{rate}"
    topics: dict[str, str] = {e: raw_topic(e) + suffix for e in EXCHANGES}
    broker.create_topics(topics.values(), partitions=3)
    register_trade_schemas(registry.url, topics)
    root = work / f"latency-{rate}"
    configs = [config_for(layer, exchange, broker, registry, root, topics, gold_watermark=watermark)
               for _, layer, exchange in JOBS]  # fmt: skip
    jobs = start_jobs(spark, configs)
    by_name = {j.config.job_name: j for j in jobs}
    gold = by_name["gold"]
    feed_result: dict[str, Any] = {}
    feed = threading.Thread(
        target=lambda: feed_result.update(stats=run_feed(
            list(EXCHANGES), "synthetic", rate / len(EXCHANGES), duration, broker.bootstrap_servers,
            registry.url, topics=topics, seed=rate)),
        daemon=True,
    )  # fmt: skip
    started = time.monotonic()
    feed.start()
    baseline: list[tuple[float, float]] = []
    state: list[tuple[float, int, int]] = []
    while feed.is_alive():
        time.sleep(15)
        elapsed = time.monotonic() - started
        if not baseline and elapsed >= warmup:
            baseline = gold.metrics.latency_buckets()
        progress: dict[str, Any] = gold.query.lastProgress or {}
        for op in progress.get("stateOperators", []):
            state.append((elapsed, int(op["numRowsTotal"]), int(op["memoryUsedBytes"])))
            print(
                f"  t={elapsed:5.0f}s gold state rows {op['numRowsTotal']} bytes {op['memoryUsedBytes']}",
                flush=True,
            )
    produced = feed_result["stats"].produced
    bronze_done = sum(by_name[f"bronze-{e}"].metrics.value("k2_records_processed_total") for e in EXCHANGES)
    lag_at_end = produced - bronze_done
    final = gold.metrics.latency_buckets()
    window = [(le, count - dict(baseline).get(le, 0.0)) for le, count in final] if baseline else final
    stop_jobs(spark, jobs)
    tag = f"b.rate_{rate}"
    report(f"{tag}.offered_trades_per_s", rate)
    report(f"{tag}.produced", produced)
    report(f"{tag}.achieved_produce_per_s", produced / feed_result["stats"].elapsed_seconds)
    report(f"{tag}.bronze_lag_at_end_records", int(lag_at_end))
    report(f"{tag}.e2e_p50_seconds", bucket_quantile(0.5, window) or float("nan"))
    report(f"{tag}.e2e_p99_seconds", bucket_quantile(0.99, window) or float("nan"))
    if state:
        second_half = [s for s in state if s[0] >= duration / 2] or state
        report(f"c.rate_{rate}.state_rows_first_sample", state[0][1])
        report(f"c.rate_{rate}.state_rows_second_half_min", min(s[1] for s in second_half))
        report(f"c.rate_{rate}.state_rows_second_half_max", max(s[1] for s in second_half))
        report(f"c.rate_{rate}.state_bytes_second_half_max", max(s[2] for s in second_half))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=200_000, help="(a) records in the ingest topic")
    parser.add_argument("--rates", default="5000", help="(b) offered trades/s, comma-separated")
    parser.add_argument("--duration", type=float, default=600, help="(b, c) seconds of feed per rate")
    parser.add_argument("--warmup", type=float, default=60, help="(b) seconds excluded from latency")
    parser.add_argument("--watermark", default="2 minutes", help="(c) Gold watermark")
    parser.add_argument("--skip-ingest", action="store_true", help="skip (a)")
    args = parser.parse_args()

    from spark_jobs.jobs.runner import session_conf
    from spark_jobs.spark_session import build_spark_session

    with tempfile.TemporaryDirectory(prefix="k2-bench-pipeline-") as tmp:
        work = Path(tmp)
        broker = KafkaBroker(work / "kafka", port=free_port(), controller_port=free_port(), heap="1g").start()
        registry = SchemaRegistry(work / "registry", port=free_port(), management_port=free_port()).start()
        spark = None
        try:
            example = config_for("gold", None, broker, registry, work, {})
            spark = build_spark_session("k2-bench", driver_memory="2g",
                                        extra_conf={**session_conf(example), "spark.scheduler.mode": "FAIR",
                                                    "spark.ui.enabled": "false"})  # fmt: skip
            spark.sparkContext.setLogLevel("ERROR")
            if not args.skip_ingest:
                bench_bronze_ingest(spark, broker, registry, work, args.records)
            for rate in (int(r) for r in args.rates.split(",") if r):  # --rates "" skips (b, c)
                print(f"(b, c) offered {rate} trades/s for {args.duration:.0f} s, watermark {args.watermark}")
                bench_latency(spark, broker, registry, work, rate, args.duration, args.watermark, args.warmup)
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
