"""``k2 local``: start Kafka, the registry, the feed and the five jobs; show progress; print a summary.

Stops on Ctrl-C or after --duration; the feed stops first, the jobs drain what it produced, then the
summary is read from the Delta tables. Running again on the same --data-dir resumes from the
checkpoints (the broker keeps its data there too); --fresh starts from nothing.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from spark_jobs.contracts import EXCHANGES

if TYPE_CHECKING:
    from spark_jobs.local.pipeline import LocalPipeline

DEFAULT_DATA_DIR = Path(".k2/local")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=float, default=0, help="seconds to run (default: until Ctrl-C)")
    parser.add_argument(
        "--source",
        choices=("auto", "live", "replay", "synthetic"),
        default="auto",
        help="trade source: auto = live when the exchanges answer, else the offline fallback",
    )
    parser.add_argument(
        "--fallback",
        choices=("replay", "synthetic"),
        default="synthetic",
        help="what --source auto uses when the exchanges do not answer",
    )
    parser.add_argument("--rate", type=float, default=50.0, help="synthetic trades/s per exchange")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="tables, checkpoints, logs")
    parser.add_argument("--fresh", action="store_true", help="delete the data folder first")
    parser.add_argument(
        "--trigger",
        help="micro-batch trigger interval of every job (default: Bronze 10 s, Silver and Gold 2 s)",
    )
    parser.add_argument("--bronze-trigger", help="Bronze's trigger interval (default: --trigger, else 10 s)")
    parser.add_argument("--watermark", default="10 minutes", help="Gold dedup watermark")
    parser.add_argument("--no-bad-records", action="store_true", help="do not inject the known bad records")
    parser.add_argument(
        "--quality-interval",
        type=float,
        default=300.0,
        help="seconds between data-quality check runs (duplicates: 12x); e.g. 20 for a demo",
    )
    parser.add_argument("--drain-timeout", type=float, default=300.0, help="max seconds to drain after stop")
    parser.add_argument(
        "--file",
        action="append",
        default=[],
        metavar="[EXCHANGE=]PATH",
        help="with --source replay: your own capture (a folder of <exchange>.jsonl as `k2 feed --record` "
        "writes, or kraken=PATH / binance=PATH), played once instead of looping the bundled sample",
    )
    ports = parser.add_argument_group(
        "ports (default: those of this data folder's last run, else 19092/18081/8000-8004 when free, "
        "else free ones)"
    )
    ports.add_argument(
        "--kafka-port",
        type=int,
        default=None,
        help="Kafka broker port (its controller: 19093, else a free one)",
    )
    ports.add_argument("--registry-port", type=int, default=None, help="schema registry HTTP port")
    ports.add_argument("--metrics-base-port", type=int, default=None, help="the five jobs' metrics: N..N+4")


def run(args: argparse.Namespace) -> int:
    # Spark and the infrastructure load here, not at import: `k2 --help` stays instant.
    from spark_jobs.feeds.cli import replay_files_from_args
    from spark_jobs.local.memory import memory_by_process
    from spark_jobs.local.pipeline import LocalPipeline, LocalSettings, reset_data_dir
    from spark_jobs.local.ports import choose_ports
    from spark_jobs.local.sources import resolve_source
    from spark_jobs.logging_setup import configure_json_logging

    console = Console()
    data_dir = args.data_dir.resolve()
    if args.fresh:
        reset_data_dir(data_dir)
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    # Job logs (JSON) go to a file: the terminal belongs to the live view.
    configure_json_logging(stream=(data_dir / "logs" / "jobs.jsonl").open("a", buffering=1))
    logging.getLogger("k2.local").info("local run starting", extra={"data_dir": str(data_dir)})

    replay_files = {}
    if args.file:
        if args.source != "replay":
            console.print("[red]--file needs --source replay")
            return 2
        try:
            replay_files = replay_files_from_args(args.file, list(EXCHANGES))
        except ValueError as exc:
            console.print(f"[red]--file: {exc}")
            return 2
    source, reason = resolve_source(args.source, args.fallback)
    if replay_files:
        reason += "; recordings: " + ", ".join(f"{e}={p}" for e, p in replay_files.items())
    console.print(f"[bold]feed source:[/] {source} ({reason})")
    ports = choose_ports(
        data_dir,
        {"kafka": args.kafka_port, "registry": args.registry_port, "metrics_base": args.metrics_base_port},
    )
    settings = LocalSettings(
        data_dir=data_dir,
        source=source,
        rate=args.rate,
        gold_watermark=args.watermark,
        inject_bad_records=not args.no_bad_records,
        quality_interval=args.quality_interval,
        ports=ports,
        replay_files=replay_files,
    )
    settings = settings.with_triggers(args.trigger, args.bronze_trigger)
    pipeline = LocalPipeline(settings)
    status = 0
    try:
        with console.status("starting Kafka and the schema registry..."):
            pipeline.start_infrastructure()
        console.print(
            f"kafka {pipeline.broker.bootstrap_servers if pipeline.broker else '?'}, registry "
            f"{pipeline.registry.url if pipeline.registry else '?'}, "
            f"bad records injected: {sum(pipeline.injected.values())}"
        )
        with console.status("starting Spark (one application, five queries)..."):
            pipeline.start_spark_jobs()
        pipeline.start_feed(None)
        pipeline.start_quality()
        console.print("metrics: " + ", ".join(f"{j.config.job_name}:{j.metrics_port}" for j in pipeline.jobs))
        status = _watch(pipeline, console, args.duration)
        pipeline.stop_feed()
        with console.status("feed stopped; draining the jobs..."):
            drained = pipeline.wait_until_drained(args.drain_timeout)
        if not drained:
            console.print(
                "[yellow]jobs did not drain in time: the summary shows what is committed so far; "
                "the next run resumes from the checkpoints and catches up"
            )
        memory = memory_by_process(pipeline.process_pids())
        pipeline.stop_jobs()
        if pipeline.quality is not None:
            with console.status("final run of the data-quality checks..."):
                pipeline.quality.run_once()
        from spark_jobs.local.summary import collect_summary, print_summary

        assert pipeline.spark is not None
        print_summary(collect_summary(pipeline.spark, pipeline, memory), data_dir, console, drained)
        failed = pipeline.failed_jobs()
        if failed:
            status = 1
    except KeyboardInterrupt:
        console.print("[yellow]interrupted; stopping")
        status = 130
    finally:
        with console.status("stopping Spark, the registry and Kafka..."):
            pipeline.stop_all()
    return status


def _watch(pipeline: LocalPipeline, console: Console, duration: float) -> int:
    from rich.live import Live

    from spark_jobs.local.progress import render

    deadline = time.monotonic() + duration if duration else None
    try:
        with Live(render(pipeline, deadline), console=console, refresh_per_second=1) as live:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(1)
                live.update(render(pipeline, deadline))
                if pipeline.failed_jobs():
                    return 1
    except KeyboardInterrupt:
        console.print("[yellow]Ctrl-C: stopping the feed and draining (Ctrl-C again to stop at once)")
    return 0
