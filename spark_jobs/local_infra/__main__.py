"""Start, stop or inspect the local Kafka broker and schema registry by hand.

    python -m spark_jobs.local_infra start [--what kafka|registry|all] [--dir .k2/infra]
    python -m spark_jobs.local_infra status
    python -m spark_jobs.local_infra stop

`start` creates the raw topics and registers the trade schemas, then prints the two settings the
feed and the jobs read (K2_KAFKA_BOOTSTRAP_SERVERS, K2_SCHEMA_REGISTRY_URL) as `export` lines.
hack/start-kafka.sh and hack/start-registry.sh are wrappers. Tests never use the default ports.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spark_jobs.contracts import RAW_TOPICS, with_rejected_topics
from spark_jobs.local_infra.kafka_broker import KafkaBroker
from spark_jobs.local_infra.schema_registry import SchemaRegistry, register_trade_schemas

MIB = 2**20


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m spark_jobs.local_infra", description=__doc__.split("\n")[0]
    )
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--what", choices=["kafka", "registry", "all"], default="all")
    parser.add_argument("--dir", type=Path, default=Path(".k2/infra"), help="work dir (kafka/ and registry/)")
    parser.add_argument("--kafka-port", type=int, default=9092)
    parser.add_argument("--controller-port", type=int, default=9093)
    parser.add_argument("--registry-port", type=int, default=8081)
    parser.add_argument("--management-port", type=int, default=9001)
    parser.add_argument("--partitions", type=int, default=3, help="partitions of the raw topics")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    servers: list[KafkaBroker | SchemaRegistry] = []
    if args.what in ("kafka", "all"):
        servers.append(KafkaBroker(args.dir.resolve() / "kafka", args.kafka_port, args.controller_port))
    if args.what in ("registry", "all"):
        servers.append(
            SchemaRegistry(args.dir.resolve() / "registry", args.registry_port, args.management_port)
        )

    if args.action == "stop":
        for server in servers:
            print(f"{type(server).__name__}: {'stopped' if server.stop() else 'was not running'}")
        return 0
    if args.action == "status":
        for server in servers:
            pid = server.pid
            state = f"running, pid {pid}, RSS {server.rss_bytes() / MIB:.0f} MiB" if pid else "not running"
            print(f"{type(server).__name__}: {state} (log: {server.log_file})")
        return 0

    for server in servers:
        server.start(wait=False)  # both JVMs boot in parallel
    for server in servers:
        server.wait_ready()
        if isinstance(server, KafkaBroker):
            server.create_topics(with_rejected_topics(RAW_TOPICS.values()), partitions=args.partitions)
            print(f"export K2_KAFKA_BOOTSTRAP_SERVERS={server.bootstrap_servers}")
        else:
            register_trade_schemas(server.url)  # in-memory registry: registered on every start
            print(f"export K2_SCHEMA_REGISTRY_URL={server.url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
