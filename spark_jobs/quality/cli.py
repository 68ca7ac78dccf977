"""``k2 quality``: run the data-quality checks against one pipeline's tables.

Once (``--once``: run, print, exit 2 when any check is critical) or on the checks' schedules with
``k2_quality_check_*`` metrics served (what the operator runs per pipeline on Kubernetes). Locations
come from ``--data-dir`` (a local run) or ``--tables-uri``/``--checkpoints-uri`` (any storage Spark
reads, e.g. s3a://), or the K2_TABLES_URI / K2_CHECKPOINTS_URI environment variables.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from spark_jobs.contracts import EXCHANGES, raw_topic
from spark_jobs.quality import checks

if TYPE_CHECKING:
    from rich.console import Console

    from spark_jobs.quality.checks import CheckResult
    from spark_jobs.quality.runner import QualitySettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=Path(".k2/local"), help="a local run's data folder")
    parser.add_argument("--tables-uri", default=os.environ.get("K2_TABLES_URI"), help="overrides --data-dir")
    parser.add_argument("--checkpoints-uri", default=os.environ.get("K2_CHECKPOINTS_URI"))
    parser.add_argument(
        "--bootstrap-servers",
        default=os.environ.get("K2_KAFKA_BOOTSTRAP_SERVERS"),
        help="Kafka, so freshness can tell a dead feed from a stuck Bronze job (optional)",
    )
    parser.add_argument(
        "--check", action="append", choices=checks.CHECK_NAMES, help="only these (repeatable)"
    )
    parser.add_argument("--once", action="store_true", help="run the checks once, print them, exit")
    parser.add_argument(
        "--interval", type=float, default=300.0, help="seconds between runs (duplicates: 12x this)"
    )
    parser.add_argument("--stale-after", type=float, default=300.0, help="freshness threshold, seconds")
    parser.add_argument("--dlq-warning", type=float, default=0.01, help="DLQ rate warning threshold")
    parser.add_argument("--dlq-critical", type=float, default=0.05, help="DLQ rate critical threshold")
    parser.add_argument("--watermark", default="10 minutes", help="Gold's watermark (conservation)")
    parser.add_argument("--metrics-port", type=int, default=8005, help="k2_quality_check_* metrics port")
    parser.add_argument("--metrics-bind-address", default="127.0.0.1")
    parser.add_argument("--master", default="local[1]", help="Spark master of the checks' own session")
    parser.add_argument(
        "--topic",
        action="append",
        default=[],
        metavar="EXCHANGE=TOPIC",
        help="a raw topic other than the contract's",
    )
    parser.add_argument(
        "--spark-conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Spark setting (storage access)",
    )
    parser.add_argument(
        "--report-configmap",
        default=os.environ.get("K2_QUALITY_REPORT_CONFIGMAP"),
        help="on Kubernetes: write each run's summary to this ConfigMap (the operator's status source)",
    )


def settings_from_args(args: argparse.Namespace) -> QualitySettings:
    from spark_jobs.quality.runner import QualitySettings

    root = args.data_dir.resolve()
    tables = args.tables_uri or (root / "tables").as_uri()
    checkpoints = args.checkpoints_uri or (root / "checkpoints").as_uri()
    topics = {e: raw_topic(e) for e in EXCHANGES} | _pairs(args.topic, "--topic")
    return QualitySettings.with_interval(
        args.interval,
        topics=topics,
        tables_uri=tables,
        checkpoints_uri=checkpoints,
        dlq_warning=args.dlq_warning,
        dlq_critical=args.dlq_critical,
        stale_after_seconds=args.stale_after,
        gold_watermark=args.watermark,
        kafka_bootstrap_servers=args.bootstrap_servers,
    )


def _pairs(values: list[str], flag: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise SystemExit(f"{flag} wants KEY=VALUE, got {value!r}")
        pairs[key] = rest
    return pairs


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from spark_jobs.logging_setup import configure_json_logging
    from spark_jobs.metrics import QualityMetrics
    from spark_jobs.quality.runner import QualityRunner
    from spark_jobs.spark_session import build_spark_session

    configure_json_logging()
    settings = settings_from_args(args)
    names = args.check or list(checks.CHECK_NAMES)
    spark = build_spark_session("k2-quality", master=args.master, extra_conf={"spark.ui.enabled": "false"})
    spark.sparkContext.setLogLevel("ERROR")
    metrics = QualityMetrics()
    runner = QualityRunner(spark, settings, metrics, names=names)
    if args.report_configmap:
        from spark_jobs.quality.report import ConfigMapReporter

        runner.on_record.append(ConfigMapReporter(args.report_configmap))
    try:
        if args.once:
            results = runner.run_once()
            print_results(results, runner.durations, Console())
            return 2 if any(checks.worst(r) is checks.Status.CRITICAL for r in results.values()) else 0
        metrics.serve(args.metrics_port, args.metrics_bind_address)
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        runner.run_forever(stop)
        return 0
    finally:
        spark.stop()


def print_results(
    results: Mapping[str, Sequence[CheckResult]], durations: Mapping[str, float], console: Console
) -> None:
    from rich.table import Table

    table = Table(title="Data-quality checks")
    for column in ("check", "scope", "value", "threshold", "status", "detail"):
        table.add_column(column)
    colours = {"ok": "green", "warning": "yellow", "critical": "red"}
    for name, rows in results.items():
        for r in rows:
            value = "-" if r.value is None else f"{r.value:.4g}"
            label = r.status.label
            table.add_row(name, r.scope, value, f"{r.threshold:g}", f"[{colours[label]}]{label}[/]", r.detail)
    console.print(table)
    console.print(", ".join(f"{name} {seconds:.2f} s" for name, seconds in durations.items()))
