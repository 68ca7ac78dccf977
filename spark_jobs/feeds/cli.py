"""`k2 feed`: put exchange trades into Kafka (Confluent Avro) from live websockets, the recorded
replay sample, or the synthetic generator. Prints the counters as JSON when it stops."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from spark_jobs.contracts import EXCHANGES, raw_topic
from spark_jobs.feeds.health import serve_feed_endpoint
from spark_jobs.feeds.runner import run_feed
from spark_jobs.feeds.sources import SOURCES
from spark_jobs.feeds.sources.live import ReconnectPolicy
from spark_jobs.feeds.sources.replay import recording_files
from spark_jobs.feeds.stats import FeedStats
from spark_jobs.logging_setup import configure_json_logging

HELP = "produce Binance/Kraken trades to Kafka from live websockets, a recorded replay or synthetic data"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exchange", choices=[*EXCHANGES, "all"], default="all")
    parser.add_argument(
        "--source",
        choices=SOURCES,
        default="replay",
        help="live: exchange websockets (needs internet); replay: the recorded sample in "
        "spark_jobs/feeds/samples; synthetic: seeded generated trades (default: replay)",
    )
    parser.add_argument(
        "--rate", type=float, default=10.0, help="synthetic: trades per second per exchange, 0 = flat out"
    )
    parser.add_argument("--duration", type=float, default=None, help="stop after S seconds (default: run on)")
    parser.add_argument("--limit", type=int, default=None, help="stop after N messages per exchange")
    parser.add_argument(
        "--speed", type=float, default=1.0, help="replay: 1 = recorded pace, 10 = 10x faster, 0 = flat out"
    )
    parser.add_argument("--loops", type=int, default=1, help="replay: passes over the sample, 0 = forever")
    parser.add_argument(
        "--file",
        action="append",
        default=[],
        metavar="[EXCHANGE=]PATH",
        help="replay: your own recording instead of the bundled sample: a folder of <exchange>.jsonl "
        "(what --record writes), or one exchange's file (with --exchange, or as kraken=PATH); repeatable",
    )
    parser.add_argument(
        "--record",
        type=Path,
        default=None,
        metavar="DIR",
        help="write every received message (any source; live is the point) to DIR/<exchange>.jsonl in "
        "the replay format, for `--source replay --file DIR` later",
    )
    parser.add_argument("--seed", type=int, default=42, help="synthetic: generator seed")
    parser.add_argument(
        "--bootstrap-servers",
        default=os.environ.get("K2_KAFKA_BOOTSTRAP_SERVERS"),
        help="Kafka bootstrap servers (default: $K2_KAFKA_BOOTSTRAP_SERVERS)",
    )
    parser.add_argument(
        "--registry-url",
        default=os.environ.get("K2_SCHEMA_REGISTRY_URL"),
        help="Confluent-compatible schema registry URL (default: $K2_SCHEMA_REGISTRY_URL)",
    )
    parser.add_argument(
        "--topic-suffix",
        default="",
        help="append to the raw topic names (e.g. '.test'), for side-by-side runs and tests",
    )
    parser.add_argument(
        "--topic",
        default=None,
        help="the raw topic to produce to (one --exchange only; default: the contract's)",
    )
    parser.add_argument(
        "--symbols",
        nargs="+",
        default=None,
        help="produce only these symbols' trades; live subscribes to them (default: all, live: per exchange)",
    )
    parser.add_argument("--watchdog", type=float, default=30.0, help="live: reconnect after S silent seconds")
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve /metrics and /healthz on this port (what a feed pod's probes and Prometheus read)",
    )
    parser.add_argument(
        "--stale-after",
        type=float,
        default=120.0,
        help="/healthz fails once nothing was produced for S seconds (default 120)",
    )


def run(args: argparse.Namespace) -> int:
    if not args.bootstrap_servers or not args.registry_url:
        missing = "--bootstrap-servers and --registry-url are required (or their env vars)"
        print(f"k2 feed: {missing}", file=sys.stderr)
        return 2
    exchanges = list(EXCHANGES) if args.exchange == "all" else [args.exchange]
    if args.topic and len(exchanges) != 1:
        print("k2 feed: --topic needs one --exchange", file=sys.stderr)
        return 2
    try:
        replay_files = replay_files_from_args(args.file, exchanges)
    except ValueError as exc:
        print(f"k2 feed: {exc}", file=sys.stderr)
        return 2
    if replay_files:
        if args.source != "replay":
            print("k2 feed: --file needs --source replay", file=sys.stderr)
            return 2
        exchanges = [e for e in exchanges if e in replay_files]
    configure_json_logging()
    topics = {exchange: (args.topic or raw_topic(exchange)) + args.topic_suffix for exchange in exchanges}
    stats = FeedStats()
    options: dict[str, Any] = {
        "limit": args.limit,
        "speed": args.speed,
        "loops": args.loops,
        "seed": args.seed,
        "topics": topics,
        "reconnect": ReconnectPolicy(watchdog_seconds=args.watchdog),
        "stats": stats,
        "replay_files": replay_files or None,
        "record_dir": args.record,
    }
    if args.symbols:
        options["symbols"] = dict.fromkeys(exchanges, args.symbols)
    if args.metrics_port is not None:
        # 0.0.0.0 in a pod (probes and Prometheus come from outside); tests set 127.0.0.1.
        address = os.environ.get("K2_FEED_METRICS_ADDRESS", "0.0.0.0")
        serve_feed_endpoint(stats, args.metrics_port, args.stale_after, address=address)
    try:
        stats = run_feed(
            exchanges,
            args.source,
            args.rate,
            args.duration,
            args.bootstrap_servers,
            args.registry_url,
            **options,
        )
    except RuntimeError as exc:  # missing topics, unreachable broker: say it in one line
        print(f"k2 feed: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(stats.to_dict(), indent=2))
    return 1 if stats.errors else 0


def replay_files_from_args(values: list[str], exchanges: list[str]) -> dict[str, Path]:
    """--file values -> {exchange: recording}; 'kraken=PATH' names the exchange of one file."""
    files: dict[str, Path] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if sep and name in EXCHANGES:
            files.update(recording_files(Path(rest), [name]))
        else:
            files.update(recording_files(Path(value), exchanges))
    return files
