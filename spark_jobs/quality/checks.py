"""The data-quality checks: pure functions over the pipeline's DataFrames.

Each takes the tables it judges, the time ``now`` and its thresholds as arguments and returns
:class:`CheckResult` rows (one per scope): nothing here reads a clock, a file or the network, so the
same function runs in unit tests on small DataFrames, in ``k2 quality`` and in ``k2 local``.

- ``dlq_rate``: DLQ share of what Silver processed in the last window, per exchange and error type.
- ``freshness``: time since the last trade per layer, exchange and symbol; a quiet symbol (others of
  the exchange are fresh) is a warning, a whole exchange gone quiet is critical, and Kafka's latest
  offsets say whether the feed or the Bronze job stopped.
- ``duplicates``: repeated message_id, or repeated (exchange, symbol, trade_id), in Gold.
- ``conservation``: Bronze = Silver + DLQ per exchange, and Gold = distinct Silver message_ids except
  rows that arrived later than Gold's watermark. The caller passes consistent cuts of the tables
  (``spark_jobs.quality.snapshots``): exactly what the downstream job had committed, so rows in flight
  never look missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import IntEnum
from typing import Final

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_jobs.contracts import REJECTED_TOPIC_SUFFIX

DLQ_RATE: Final = "dlq_rate"
FRESHNESS: Final = "freshness"
DUPLICATES: Final = "duplicates"
CONSERVATION: Final = "conservation"
CHECK_NAMES: Final[tuple[str, ...]] = (DLQ_RATE, FRESHNESS, DUPLICATES, CONSERVATION)


class Status(IntEnum):
    """A check's verdict; the integer is the value of the k2_quality_check_status gauge."""

    OK = 0
    WARNING = 1
    CRITICAL = 2

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class CheckResult:
    """One row of the quality_checks table."""

    check: str
    scope: str  # what was checked, e.g. "binance", "binance/bad_magic_byte", "silver/kraken/BTC/USD"
    value: float | None  # None: nothing to measure (e.g. a layer with no rows at all)
    threshold: float
    status: Status
    checked_at: datetime
    detail: str = ""


def _utc_date(moment: datetime) -> date:
    """The UTC date of a moment: the tables' date partitions are UTC dates."""
    return moment.astimezone(UTC).date()


def worst(results: Iterable[CheckResult]) -> Status:
    return max((r.status for r in results), default=Status.OK)


# --- DLQ rate -------------------------------------------------------------------------------------


def dlq_rate(
    silver: Mapping[str, DataFrame],
    dlq: DataFrame,
    *,
    now: datetime,
    window: timedelta,
    warning: float = 0.01,
    critical: float = 0.05,
) -> list[CheckResult]:
    """DLQ rows / (Silver + DLQ rows) that Silver processed in ``(now - window, now]`` (both tables
    carry Silver's batch time: validation_timestamp, error_timestamp), per exchange and, for every
    error type seen, per exchange and error type. A window with nothing processed has rate 0:
    freshness is the check that notices a stall."""
    start = now - window

    def in_window(column: str) -> F.Column:
        return (F.col(column) > F.lit(start)) & (F.col(column) <= F.lit(now))

    # error_date is the DLQ's partition column: the date bound prunes old partitions.
    recent_dlq = dlq.where((F.col("error_date") >= F.lit(_utc_date(start))) & in_window("error_timestamp"))
    dead = {
        (r["exchange"], r["error_type"]): int(r["count"])
        for r in recent_dlq.groupBy("exchange", "error_type").count().collect()
    }
    results = []
    for exchange, silver_df in silver.items():
        valid = silver_df.where(in_window("validation_timestamp")).count()
        by_type = {t: n for (e, t), n in dead.items() if e == exchange}
        processed = valid + sum(by_type.values())
        scopes = [
            (exchange, sum(by_type.values())),
            *((f"{exchange}/{t}", n) for t, n in sorted(by_type.items())),
        ]
        for scope, rejected in scopes:
            rate = rejected / processed if processed else 0.0
            status = Status.CRITICAL if rate >= critical else Status.WARNING if rate >= warning else Status.OK
            results.append(
                CheckResult(
                    DLQ_RATE, scope, rate, critical, status, now,
                    f"{rejected} of {processed} records in the last {window.total_seconds():.0f} s went to "
                    f"the DLQ (warning at {warning:.0%}, critical at {critical:.0%})",
                )
            )  # fmt: skip
    return results


# --- freshness ------------------------------------------------------------------------------------


def _age_seconds(newest: Column, now: datetime) -> Column:
    """Seconds from ``newest`` to ``now``, computed in Spark (no naive/aware datetime mix in Python)."""
    return (F.unix_micros(F.lit(now)) - F.unix_micros(newest)) / 1e6


def _ages_by_symbol(df: DataFrame, symbol: Column, time_column: str, now: datetime) -> dict[str, float]:
    rows = (
        df.groupBy(symbol.alias("symbol")).agg(_age_seconds(F.max(time_column), now).alias("age")).collect()
    )
    return {r["symbol"] or "(no key)": float(r["age"]) for r in rows if r["age"] is not None}


def _kafka_backlog(bronze: DataFrame, end_offsets: Mapping[int, int]) -> int:
    """Records Kafka holds beyond the newest offset Bronze wrote, summed over partitions (of the raw
    topic: Bronze also holds its rejected-frames topic's rows, with offsets of their own)."""
    raw_rows = bronze.where(~F.col("topic").endswith(REJECTED_TOPIC_SUFFIX))
    read = {
        r["partition"]: int(r["o"]) + 1
        for r in raw_rows.groupBy("partition").agg(F.max("offset").alias("o")).collect()
    }
    return sum(max(0, end - read.get(partition, 0)) for partition, end in end_offsets.items())


def freshness(
    bronze: Mapping[str, DataFrame],
    silver: Mapping[str, DataFrame],
    gold: DataFrame,
    *,
    now: datetime,
    stale_after: timedelta,
    kafka_end_offsets: Mapping[str, Mapping[int, int]] | None = None,
    lookback: timedelta = timedelta(days=1),
) -> list[CheckResult]:
    """Seconds since the newest trade per layer, exchange and symbol (Bronze: the Kafka timestamp of
    the newest record per key; Silver and Gold: the trade's event time), and per layer and exchange
    (its freshest symbol). A stale symbol of an exchange whose other symbols are fresh is a quiet
    symbol (warning); an exchange with no fresh symbol is critical, and for Bronze Kafka's end offsets
    (``kafka_end_offsets``: exchange -> partition -> end offset) tell a dead feed (nothing newer in
    Kafka) from a stuck Bronze job (Kafka holds records Bronze has not written). Only the last
    ``lookback`` is read (partition and file pruning): a symbol silent for longer is not listed."""
    since = now - lookback
    newest: dict[tuple[str, str], dict[str, float]] = {}
    for exchange, df in bronze.items():
        recent = df.where(
            (F.col("ingestion_date") >= F.lit(_utc_date(since))) & (F.col("kafka_timestamp") >= F.lit(since))
        )
        newest[("bronze", exchange)] = _ages_by_symbol(
            recent, F.col("key").cast("string"), "kafka_timestamp", now
        )
    for exchange, df in silver.items():
        newest[("silver", exchange)] = _ages_by_symbol(
            df.where(F.col("timestamp") >= F.lit(since)), F.col("symbol"), "timestamp", now
        )
    recent_gold = gold.where(
        (F.col("exchange_date") >= F.lit(_utc_date(since))) & (F.col("timestamp") >= F.lit(since))
    )
    gold_rows = (
        recent_gold.groupBy("exchange", "symbol")
        .agg(_age_seconds(F.max("timestamp"), now).alias("age"))
        .collect()
    )
    for exchange in silver:
        newest[("gold", exchange)] = {
            r["symbol"]: float(r["age"])
            for r in gold_rows
            if r["exchange"] == exchange and r["age"] is not None
        }

    limit = stale_after.total_seconds()
    results: list[CheckResult] = []
    stale_layers: dict[str, list[str]] = {}
    for (layer, exchange), ages in newest.items():
        freshest = min(ages.values(), default=None)
        exchange_fresh = freshest is not None and freshest <= limit
        for symbol, age in sorted(ages.items()):
            if age <= limit:
                status, detail = Status.OK, "fresh"
            elif exchange_fresh:
                status, detail = Status.WARNING, f"quiet symbol: other {exchange} symbols are fresh"
            else:
                status, detail = Status.CRITICAL, f"no fresh {exchange} symbol in {layer}"
            results.append(
                CheckResult(FRESHNESS, f"{layer}/{exchange}/{symbol}", age, limit, status, now, detail)
            )
        if exchange_fresh:
            status, detail = Status.OK, f"{len(ages)} symbols, the freshest {freshest:.0f} s old"
        else:
            status = Status.CRITICAL
            detail = "no rows at all" if freshest is None else f"every symbol older than {limit:.0f} s"
            stale_layers.setdefault(exchange, []).append(layer)
            if layer == "bronze" and kafka_end_offsets is not None and exchange in kafka_end_offsets:
                backlog = _kafka_backlog(bronze[exchange], kafka_end_offsets[exchange])
                detail += (
                    f"; Kafka holds {backlog} records Bronze has not written: the Bronze job is stuck"
                    if backlog
                    else "; Kafka has nothing newer either: the feed is dead or the exchange is silent"
                )
        results.append(CheckResult(FRESHNESS, f"{layer}/{exchange}", freshest, limit, status, now, detail))
    # Name the first layer that went stale: downstream layers of a stale one are stale as a consequence.
    for i, result in enumerate(results):
        layer, _, rest = result.scope.partition("/")
        if "/" not in rest and result.status is Status.CRITICAL and layer != "bronze":
            upstream = [x for x in ("bronze", "silver") if x in stale_layers.get(rest, []) and x != layer]
            if not upstream:
                results[i] = _with_detail(
                    result, f"{result.detail}; upstream layers are fresh: the {layer} job is stuck"
                )
    return results


def _with_detail(result: CheckResult, detail: str) -> CheckResult:
    from dataclasses import replace

    return replace(result, detail=detail)


# --- duplicates -----------------------------------------------------------------------------------


def duplicates(gold: DataFrame, *, now: datetime) -> list[CheckResult]:
    """Gold rows beyond the first per message_id, and per (exchange, symbol, trade_id): expected 0."""
    row = gold.agg(
        F.count(F.lit(1)).alias("rows"),
        F.count_distinct("message_id").alias("ids"),
        F.count_distinct("exchange", "symbol", "trade_id").alias("trades"),
    ).first()
    assert row is not None
    results = []
    for scope, distinct in (
        ("gold/message_id", row["ids"]),
        ("gold/exchange_symbol_trade_id", row["trades"]),
    ):
        extra = int(row["rows"]) - int(distinct)
        status = Status.CRITICAL if extra > 0 else Status.OK
        results.append(
            CheckResult(
                DUPLICATES, scope, float(extra), 0.0, status, now, f"{extra} duplicate rows in {row['rows']}"
            )
        )
    return results


# --- conservation ---------------------------------------------------------------------------------


def bronze_conservation(
    bronze: Mapping[str, DataFrame], silver: Mapping[str, DataFrame], dlq: DataFrame, *, now: datetime
) -> list[CheckResult]:
    """Bronze = Silver + DLQ per exchange. ``bronze`` must be the Bronze rows the Silver job had
    committed when ``silver`` and ``dlq`` were read (a consistent cut). The value is Bronze minus
    (Silver + DLQ): positive when Silver/DLQ are short, negative when Bronze is."""
    dead = {r["exchange"]: int(r["count"]) for r in dlq.groupBy("exchange").count().collect()}
    results = []
    for exchange, bronze_df in bronze.items():
        b, s, d = bronze_df.count(), silver[exchange].count(), dead.get(exchange, 0)
        diff = b - (s + d)
        if diff > 0:
            detail = f"silver + dlq short by {diff} (bronze {b}, silver {s}, dlq {d})"
        elif diff < 0:
            detail = f"bronze short by {-diff} (bronze {b}, silver {s}, dlq {d})"
        else:
            detail = f"bronze {b} = silver {s} + dlq {d}"
        status = Status.OK if diff == 0 else Status.CRITICAL
        results.append(CheckResult(CONSERVATION, exchange, float(diff), 0.0, status, now, detail))
    return results


def gold_conservation(
    silver: Mapping[str, DataFrame],
    gold: DataFrame,
    *,
    now: datetime,
    watermark: timedelta,
    lookback: timedelta = timedelta(days=1),
) -> list[CheckResult]:
    """Gold = the distinct Silver message_ids, except Silver rows that reached Silver more than the
    watermark after their event time (Gold's watermark drops those by design; counted in
    k2_late_rows_dropped_total). ``silver`` must be the Silver rows the Gold job had committed when
    ``gold`` was read. Value: ids Gold lacks plus ids Silver lacks (both should be 0). Both sides
    are cut at the same event time, ``now - lookback``, so the comparison stays exact and bounded."""
    since = now - lookback
    frames = [df.where(F.col("timestamp") >= F.lit(since)) for df in silver.values()]
    union = frames[0].select("message_id", "timestamp", "validation_timestamp")
    for df in frames[1:]:
        union = union.unionByName(df.select("message_id", "timestamp", "validation_timestamp"))
    gold = gold.where(
        (F.col("exchange_date") >= F.lit(_utc_date(since))) & (F.col("timestamp") >= F.lit(since))
    )
    late_seconds = watermark.total_seconds()
    on_time = union.where(
        F.unix_micros("validation_timestamp") - F.unix_micros("timestamp") <= F.lit(int(late_seconds * 1e6))
    ).select("message_id")
    gold_ids = gold.select("message_id")
    gold_short = on_time.distinct().join(gold_ids, "message_id", "left_anti").count()
    silver_short = gold_ids.distinct().join(union.select("message_id"), "message_id", "left_anti").count()
    parts = []
    if gold_short:
        parts.append(f"gold short by {gold_short} (silver ids not in gold)")
    if silver_short:
        parts.append(f"silver short by {silver_short} (gold ids not in silver)")
    status = Status.CRITICAL if parts else Status.OK
    detail = "; ".join(parts) or "gold = distinct silver message_ids (rows later than the watermark excepted)"
    return [CheckResult(CONSERVATION, "gold", float(gold_short + silver_short), 0.0, status, now, detail)]
