"""The `k2` command. Each subcommand lives in its own module and registers itself here lazily,
so `k2 --help` stays fast and a subcommand's heavy imports (Spark, kopf) load only when used."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

#: subcommand -> (module, one-line help). The module exposes `add_arguments(parser)` and `run(args)`.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "feed": ("spark_jobs.feeds.cli", "produce Binance/Kraken trades to Kafka: live, replay or synthetic"),
    # Developer tools (hack/k2_dev): absent from the images, where `k2 dev` is then simply not offered.
    "dev": ("k2_dev.dev_cluster", "developer tools: a local Kubernetes control plane built from source"),
    "local": ("spark_jobs.local.cli", "run the local pipeline: Kafka, registry, feed, five Spark jobs"),
    "query": ("spark_jobs.query", "run SQL over the local pipeline's Delta tables"),
    "rebuild-gold": (
        "spark_jobs.jobs.rebuild_gold",
        "rewrite Gold from Silver with today's message_id (after an upgrade; stop the Gold job first)",
    ),
    "quality": ("spark_jobs.quality.cli", "quality checks: DLQ rate, freshness, duplicates, conservation"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="k2", description="K2 Streaming: crypto trades to Delta Lake")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        if name == "dev" and importlib.util.find_spec("k2_dev") is None:
            continue
        module = importlib.import_module(module_name)
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
