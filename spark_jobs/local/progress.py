"""The live view of a local run (rich): one row per job, plus DLQ, duplicates, latency and memory."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from spark_jobs.local.memory import format_mib, memory_by_process
from spark_jobs.local.pipeline import LocalPipeline
from spark_jobs.metrics import bucket_quantile


def _latency(pipeline: LocalPipeline, job_name: str) -> str:
    for job in pipeline.jobs:
        if job.config.job_name == job_name:
            buckets = job.metrics.latency_buckets()
            p50, p99 = bucket_quantile(0.5, buckets), bucket_quantile(0.99, buckets)
            if p50 is not None and p99 is not None:
                return f"p50 {p50:.1f} s / p99 {p99:.1f} s"
    return "-"


def render(pipeline: LocalPipeline, deadline: float | None) -> Group:
    table = Table(title="K2 local pipeline (rows committed this run)", expand=False)
    for column in ("job", "rows", "in rows/s", "last batch", "batch", "e2e latency"):
        table.add_column(column, justify="right" if column != "job" else "left")
    for job in pipeline.jobs:
        progress: dict[str, Any] = job.query.lastProgress or {}
        duration = (progress.get("durationMs") or {}).get("triggerExecution")
        rate = progress.get("inputRowsPerSecond")
        rows = job.metrics.value("k2_records_processed_total", layer=job.config.layer)
        table.add_row(
            job.config.job_name,
            f"{rows:,.0f}",
            f"{rate:,.0f}" if isinstance(rate, (int, float)) else "-",
            f"{duration / 1000:.1f} s" if duration is not None else "-",
            str(progress.get("batchId", "-")),
            _latency(pipeline, job.config.job_name) if job.config.layer != "bronze" else "",
        )
    dlq = sum(j.metrics.value("k2_dlq_records_total") for j in pipeline.jobs)
    duplicates = sum(j.metrics.value("k2_duplicates_removed_total") for j in pipeline.jobs)
    memory = memory_by_process(pipeline.process_pids())
    elapsed = time.monotonic() - pipeline.started_at
    left = f", {max(0.0, deadline - time.monotonic()):.0f} s left" if deadline else ", Ctrl-C to stop"
    lines = [
        Text(
            f"DLQ rows {dlq:,.0f} (injected {sum(pipeline.injected.values())})   "
            f"duplicates removed {duplicates:,.0f}   feed: {pipeline.settings.source}"
            f"{' running' if pipeline.feed_running() else ' stopped'}"
        ),
        Text(f"memory {format_mib(sum(memory.values()))} (" + ", ".join(
            f"{name} {format_mib(rss)}" for name, rss in memory.items() if rss) + ")"),
        Text(f"elapsed {elapsed:.0f} s{left}", style="dim"),
    ]  # fmt: skip
    failed = pipeline.failed_jobs()
    if failed:
        lines.append(Text("FAILED: " + "; ".join(f"{name}: {error}" for name, error in failed), style="red"))
    return Group(table, *lines)
