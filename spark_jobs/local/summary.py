"""The end-of-run summary: what the tables hold (read from Delta, not from counters), what this run
did (from the metrics), where everything is, and how to query it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from rich.console import Console
from rich.table import Table

from spark_jobs.contracts import DLQ_TABLE, EXCHANGES, GOLD_TABLE, bronze_table, silver_table
from spark_jobs.local.memory import format_mib
from spark_jobs.local.pipeline import LocalPipeline
from spark_jobs.metrics import bucket_quantile
from spark_jobs.quality.checks import CheckResult, Status, worst

TABLES = (
    *(bronze_table(e) for e in EXCHANGES),
    *(silver_table(e) for e in EXCHANGES),
    DLQ_TABLE,
    GOLD_TABLE,
)


@dataclass
class Summary:
    tables_root: Path
    rows: dict[str, int]
    dlq_by_error_type: dict[str, int]
    dlq_by_exchange: dict[str, int]
    gold_distinct_message_ids: int
    silver_distinct_message_ids: int
    injected: Counter[str]
    #: whether the DLQ should hold exactly the injected records (LocalPipeline.dlq_has_a_known_expectation)
    dlq_expectation_known: bool
    #: error_type -> one reason of that type, to show what the DLQ holds when there is no expectation
    dlq_example_reason: dict[str, str]
    duplicates_removed_this_run: float
    latency_p50_p99: dict[str, tuple[float | None, float | None]]
    memory: dict[str, int] = field(default_factory=dict)
    quality: dict[str, list[CheckResult]] = field(default_factory=dict)  # check -> its last results

    @property
    def dlq_only_injected(self) -> bool:
        return self.dlq_by_error_type == dict(self.injected)

    @property
    def dlq_holds_every_injected(self) -> bool:
        return all(self.dlq_by_error_type.get(t, 0) >= n for t, n in self.injected.items())

    def conserved(self, exchange: str) -> bool:
        bronze = self.rows[bronze_table(exchange)]
        return bronze == self.rows[silver_table(exchange)] + self.dlq_by_exchange.get(exchange, 0)


def _distinct_ids(df: DataFrame) -> int:
    row = df.select(F.countDistinct("message_id")).first()
    return int(row[0]) if row is not None else 0


def collect_summary(spark: SparkSession, pipeline: LocalPipeline, memory: dict[str, int]) -> Summary:
    root = pipeline.tables_root()

    def read(table: str) -> DataFrame:
        return spark.read.format("delta").load(str(root / table))

    rows = {table: read(table).count() for table in TABLES}
    dlq = read(DLQ_TABLE)
    by_type = {r["error_type"]: int(r["count"]) for r in dlq.groupBy("error_type").count().collect()}
    by_exchange = {r["exchange"]: int(r["count"]) for r in dlq.groupBy("exchange").count().collect()}
    examples = {
        r["error_type"]: str(r["reason"])
        for r in dlq.groupBy("error_type").agg(F.min("error_reason").alias("reason")).collect()
    }
    silver_ids = read(silver_table(EXCHANGES[0])).select("message_id")
    for exchange in EXCHANGES[1:]:
        silver_ids = silver_ids.union(read(silver_table(exchange)).select("message_id"))
    latencies = {}
    for job in pipeline.jobs:
        if job.config.layer != "bronze":
            buckets = job.metrics.latency_buckets()
            latencies[job.config.job_name] = (bucket_quantile(0.5, buckets), bucket_quantile(0.99, buckets))
    return Summary(
        tables_root=root,
        rows=rows,
        dlq_by_error_type=by_type,
        dlq_by_exchange=by_exchange,
        gold_distinct_message_ids=_distinct_ids(read(GOLD_TABLE)),
        silver_distinct_message_ids=_distinct_ids(silver_ids),
        injected=pipeline.injected,
        dlq_expectation_known=pipeline.dlq_has_a_known_expectation(),
        dlq_example_reason=examples,
        duplicates_removed_this_run=sum(
            j.metrics.value("k2_duplicates_removed_total") for j in pipeline.jobs
        ),
        latency_p50_p99=latencies,
        memory=memory,
        quality=dict(pipeline.quality.last_results) if pipeline.quality else {},
    )


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def summary_checks(summary: Summary, drained: bool) -> list[tuple[str, bool | None]]:
    """The run's consistency checks as (label, passed). Each compares one layer with the one before it,
    so it only holds once every job has caught up: when the jobs did not drain, a check that does not
    pass is reported as None (not checked) rather than as a failure."""
    injected = sum(summary.injected.values())
    if summary.dlq_expectation_known:
        dlq_checks = [(f"DLQ holds only the injected bad records ({injected})", summary.dlq_only_injected)]
    elif injected:
        # live data, the bundled sample or a user's capture bring bad records of their own: the DLQ
        # is shown by reason above, and only the injected ones are a known expectation
        dlq_checks = [(f"DLQ holds every injected bad record ({injected})", summary.dlq_holds_every_injected)]
    else:
        dlq_checks = []
    checks: list[tuple[str, bool]] = [
        *dlq_checks,
        *(
            (f"{e}: bronze = silver + dlq", summary.conserved(e))
            for e in EXCHANGES
        ),
        (
            f"gold rows = distinct silver message_ids ({summary.silver_distinct_message_ids:,})",
            summary.rows[GOLD_TABLE]
            == summary.gold_distinct_message_ids
            == summary.silver_distinct_message_ids,
        ),
    ]  # fmt: skip
    return [(label, ok if ok or drained else None) for label, ok in checks]


def print_summary(summary: Summary, data_dir: Path, console: Console, drained: bool = True) -> None:
    """`drained`: whether every job caught up with the feed before the run stopped (see summary_checks)."""
    tables = Table(title="Rows per table (all runs on this data folder)")
    tables.add_column("table")
    tables.add_column("rows", justify="right")
    tables.add_column("location")
    for table, count in summary.rows.items():
        tables.add_row(table, f"{count:,}", str(summary.tables_root / table))
    console.print(tables)

    dlq = Table(title="DLQ rows by reason")
    dlq.add_column("error_type")
    dlq.add_column("rows", justify="right")
    dlq.add_column("injected", justify="right")
    dlq.add_column("example reason")
    for error_type in sorted(set(summary.dlq_by_error_type) | set(summary.injected)):
        dlq.add_row(
            error_type,
            str(summary.dlq_by_error_type.get(error_type, 0)),
            str(summary.injected.get(error_type, 0)),
            summary.dlq_example_reason.get(error_type, "")[:90],
        )
    console.print(dlq)

    for label, ok in summary_checks(summary, drained):
        if ok is None:
            console.print(f"  [yellow]----[/] {label} (not checked: the jobs had not drained)")
        else:
            console.print(f"  {'[green]OK  ' if ok else '[red]FAIL'}[/] {label}")
    console.print(f"  duplicates removed by gold this run: {summary.duplicates_removed_this_run:,.0f}")
    for job, (p50, p99) in summary.latency_p50_p99.items():
        console.print(f"  e2e latency (trade time -> {job} commit) p50 {_seconds(p50)}, p99 {_seconds(p99)}")
    print_quality(summary.quality, console)
    console.print(
        f"  memory at the end: {format_mib(sum(summary.memory.values()))} total: "
        + ", ".join(f"{name} {format_mib(rss)}" for name, rss in summary.memory.items() if rss)
    )
    console.print("\nQuery the tables:")
    console.print(
        f'  k2 query --data-dir {data_dir} "SELECT exchange, count(*) FROM gold_trades GROUP BY exchange"'
    )
    console.print(
        "  or in pyspark (with the project's session factory):\n"
        "    from spark_jobs.spark_session import build_spark_session\n"
        "    spark = build_spark_session('k2-query')\n"
        f"    spark.read.format('delta').load('{summary.tables_root / GOLD_TABLE}').show()"
    )


def print_quality(quality: dict[str, list[CheckResult]], console: Console) -> None:
    """Each check's last status, and the scopes that were not ok (at most five per check)."""
    if not quality:
        return
    colours = {Status.OK: "green", Status.WARNING: "yellow", Status.CRITICAL: "red"}
    console.print("  data quality (last run of each check):")
    for check, results in quality.items():
        status = worst(results)
        label = f"[{colours[status]}]{status.label.upper():8}[/]"
        console.print(f"    {label} {check} ({len(results)} scopes)")
        for r in [r for r in results if r.status is not Status.OK][:5]:
            console.print(f"             {r.scope}: {r.status.label}, {r.detail}")
