#!/usr/bin/env python3
"""Benchmark: the synthetic feed through the full path (wire JSON -> parse -> AvroSerializer with the
registry -> idempotent lz4 producer) against Kafka's own ProducerPerformance, same record size, same
producer settings, same broker, same run. Prints both rates and their ratio.

    hack/bench-feed.sh [--records 50000]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from confluent_kafka import Consumer

from spark_jobs.contracts import raw_topic, with_rejected_topics
from spark_jobs.feeds import run_feed
from spark_jobs.feeds.producer import PRODUCER_SETTINGS
from spark_jobs.local_infra.installs import kafka_home
from spark_jobs.local_infra.java import default_java
from spark_jobs.local_infra.kafka_broker import KafkaBroker
from spark_jobs.local_infra.ports import free_port
from spark_jobs.local_infra.schema_registry import SchemaRegistry

MIB = 2**20


def mean_value_size(bootstrap_servers: str, topic: str, sample: int = 2000) -> int:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"bench-{time.time_ns()}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    sizes: list[int] = []
    deadline = time.monotonic() + 30
    while len(sizes) < sample and time.monotonic() < deadline:
        sizes.extend(len(m.value() or b"") for m in consumer.consume(500, timeout=1) if m.error() is None)
    consumer.close()
    return round(sum(sizes) / len(sizes))


def producer_performance(bootstrap_servers: str, topic: str, records: int, record_size: int) -> float:
    """Records/s of org.apache.kafka.tools.ProducerPerformance with the feed's producer settings."""
    props = {**PRODUCER_SETTINGS, "bootstrap.servers": bootstrap_servers}
    java_props = [
        f"{k}={str(v).lower() if isinstance(v, bool) else v}"
        for k, v in props.items()
        if k not in ("batch.num.messages", "queue.buffering.max.messages")
    ]  # librdkafka-only
    command = [
        default_java(17), "-Xmx512m", "-cp", f"{kafka_home() / 'libs'}/*",
        "org.apache.kafka.tools.ProducerPerformance",
        "--topic", topic, "--num-records", str(records), "--record-size", str(record_size),
        "--throughput", "-1", "--producer-props", *java_props,
    ]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600).stdout
    final = [line for line in out.splitlines() if "records sent" in line][-1]
    print(f"  ProducerPerformance: {final.strip()}")
    match = re.search(r"([\d.]+) records/sec", final)
    if not match:
        raise RuntimeError(f"unexpected ProducerPerformance output: {final}")
    return float(match.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=50_000, help="records per measurement")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="k2-bench-") as work:
        broker = KafkaBroker(Path(work) / "kafka", port=free_port(), controller_port=free_port())
        registry = SchemaRegistry(Path(work) / "registry", port=free_port(), management_port=free_port())
        try:
            started = time.monotonic()
            broker.start()
            broker_start = time.monotonic() - started
            started = time.monotonic()
            registry.start()
            registry_start = time.monotonic() - started
            print(f"broker:   started in {broker_start:.1f} s, RSS {broker.rss_bytes() / MIB:.0f} MiB")
            print(f"registry: started in {registry_start:.1f} s, RSS {registry.rss_bytes() / MIB:.0f} MiB")

            results = []
            for exchange in ("binance", "kraken"):
                topic = f"{raw_topic(exchange)}.bench"
                perf_topic = f"bench.producer-performance.{exchange}"
                broker.create_topics([*with_rejected_topics([topic]), perf_topic], partitions=3)
                stats = run_feed(
                    [exchange], "synthetic", 0, None, broker.bootstrap_servers, registry.url,
                    limit=args.records, topics={exchange: topic},
                )  # fmt: skip
                counters = stats.exchanges[exchange]
                if counters.produced != args.records:
                    raise RuntimeError(
                        f"feed produced {counters.produced} of {args.records}: {stats.to_dict()}"
                    )
                feed_rate = counters.produced / stats.elapsed_seconds
                size = mean_value_size(broker.bootstrap_servers, topic)
                print(f"{exchange}: feed {counters.produced} records in {stats.elapsed_seconds:.2f} s, "
                      f"mean value {size} B")  # fmt: skip
                java_rate = producer_performance(broker.bootstrap_servers, perf_topic, args.records, size)
                results.append((exchange, size, feed_rate, java_rate))
            print(f"broker RSS after the runs: {broker.rss_bytes() / MIB:.0f} MiB, "
                  f"registry: {registry.rss_bytes() / MIB:.0f} MiB")  # fmt: skip
        finally:
            broker.stop()
            registry.stop()

    print("\nexchange  value_bytes  feed_records_per_s  producer_performance_records_per_s  ratio")
    for exchange, size, feed_rate, java_rate in results:
        print(f"{exchange:8}  {size:11d}  {feed_rate:18.0f}  {java_rate:34.0f}  {feed_rate / java_rate:5.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
