"""What a committed batch tells the metrics: rows per exchange, the newest event time and the
end-to-end latency histogram, all from ONE Spark aggregation (a few dozen rows come back to Python,
whatever the batch size)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import TimestampNTZType, TimestampType

from spark_jobs.metrics import E2E_LATENCY_BUCKETS, JobMetrics, LatencyBucketCount


@dataclass
class ExchangeBatchStats:
    rows: int = 0
    newest_event_seconds: float | None = None
    latency_buckets: list[LatencyBucketCount] = field(default_factory=list)


def _event_seconds(df: DataFrame, column: str) -> Column:
    if isinstance(df.schema[column].dataType, (TimestampType, TimestampNTZType)):
        return F.col(column).cast("double")
    return F.col(column).cast("double") / 1_000_000  # epoch microseconds


def _bucket_upper_bound(latency: Column) -> Column:
    expr = F.when(latency <= E2E_LATENCY_BUCKETS[0], F.lit(E2E_LATENCY_BUCKETS[0]))
    for bound in E2E_LATENCY_BUCKETS[1:]:
        expr = expr.when(latency <= bound, F.lit(bound))
    return expr.otherwise(F.lit(math.inf))


def batch_stats(
    df: DataFrame, commit_epoch_seconds: float, event_time_column: str = "timestamp"
) -> dict[str, ExchangeBatchStats]:
    """Per exchange: rows, newest event time, and latency (commit time - event time) per bucket."""
    event = _event_seconds(df, event_time_column)
    latency = F.greatest(F.lit(commit_epoch_seconds) - event, F.lit(0.0))
    grouped = (
        df.select(F.col("exchange"), event.alias("event_s"), latency.alias("latency_s"))
        .groupBy("exchange", _bucket_upper_bound(F.col("latency_s")).alias("le"))
        .agg(F.count(F.lit(1)).alias("n"), F.sum("latency_s").alias("s"), F.max("event_s").alias("newest"))
        .collect()
    )
    stats: dict[str, ExchangeBatchStats] = {}
    for row in grouped:
        entry = stats.setdefault(row["exchange"], ExchangeBatchStats())
        entry.rows += int(row["n"])
        entry.latency_buckets.append(LatencyBucketCount(float(row["le"]), int(row["n"]), float(row["s"])))
        if row["newest"] is not None:
            entry.newest_event_seconds = max(entry.newest_event_seconds or 0.0, float(row["newest"]))
    return stats


def record_batch_stats(metrics: JobMetrics, stats: dict[str, ExchangeBatchStats]) -> None:
    for exchange, entry in stats.items():
        metrics.record_committed(exchange, entry.rows)
        metrics.record_latencies(exchange, entry.latency_buckets)
        if entry.newest_event_seconds is not None:
            metrics.record_last_event_time(exchange, entry.newest_event_seconds)
