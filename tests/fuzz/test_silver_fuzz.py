"""Property-based fuzzing of Silver (Hypothesis, derandomized; the records still vary with what ran
before in the process, see generated_frames).

Hypothesis generates Bronze values (tests/fixtures/fuzz_records.py: wire frames and Avro records
around every field's edge, valid ones too) in plain Python; Spark's Silver classifies them in a few
large DataFrames (one Spark job per batch of BATCH_SIZE, not per record), the pure-Python rules
record by record. Properties, each its own test over the same run:

1. agreement: every record gets the same outcome from both (the same Silver row, or the same DLQ
   error type), and Silver + DLQ hold every record exactly once;
2. strictness: every Silver row satisfies the strict definition of a valid trade (restated
   independently in fuzz_records.strict_violations);
3. lossless DLQ: a DLQ row keeps the exact raw bytes of its Kafka record.

After the run the records each property saw are printed (tests/fuzz/conftest.py). Hypothesis does
not shrink here (each step would be a Spark job); a failure prints the offending records instead.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_jobs.normalization import micros_from_datetime
from spark_jobs.synthetic_trades import DEFAULT_START
from spark_jobs.transforms.bronze import to_bronze
from spark_jobs.transforms.silver import V2_COLUMNS, V2_SCHEMA, classify_bronze, split_classified
from tests.fixtures import fuzz_records as FR
from tests.unit.kafka_rows import kafka_source_df

pytestmark = [pytest.mark.fuzz]

#: When Silver judges the fuzzed records (also their Kafka timestamp).
NOW = DEFAULT_START + timedelta(hours=2)
#: Records per exchange and per Spark batch: bounded so the tier stays well under 3 minutes.
RECORDS_PER_EXCHANGE = 2000
BATCH_SIZE = 1000

#: (property, exchange) -> records checked; (exchange, outcome) -> records. Printed after the run.
SEEN: Counter[tuple[str, str]] = Counter()
OUTCOMES: Counter[tuple[str, str]] = Counter()
TIMES: dict[str, float] = {}


def summary_lines() -> list[str]:
    if not SEEN:
        return []
    lines = [
        "fuzz: records checked per property (" + ", ".join(f"{k} {v:.0f} s" for k, v in TIMES.items()) + ")"
    ]
    lines += [f"  {prop:<12} {exchange:<8} {n}" for (prop, exchange), n in sorted(SEEN.items())]
    for exchange in ("binance", "kraken"):
        outcomes = sorted(((o, n) for (e, o), n in OUTCOMES.items() if e == exchange), key=lambda x: -x[1])
        lines.append(f"  outcomes {exchange}: " + ", ".join(f"{o}={n}" for o, n in outcomes))
    return lines


@dataclass(frozen=True)
class FuzzRun:
    exchange: str
    values: list[bytes | None]  # Kafka offset i holds values[i]
    expected: list[FR.Classification]  # the Python rules' outcome per record
    silver: list[tuple[Any, ...]]  # Spark's Silver rows (timestamps as epoch µs)
    dlq: list[tuple[int, bytes | None, str]]  # Spark's DLQ rows: (offset, raw bytes, error type)


def _silver_micros(df: DataFrame) -> DataFrame:
    """V2 columns with timestamps as epoch µs (compared exactly, no time zone in between)."""
    timestamps = {f.name for f in V2_SCHEMA.fields if isinstance(f.dataType, T.TimestampType)}
    return df.select(*[F.unix_micros(n).alias(n) if n in timestamps else F.col(n) for n in V2_COLUMNS])


def _python_row(v2: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(
        micros_from_datetime(v2[name]) if isinstance(V2_SCHEMA[name].dataType, T.TimestampType) else v2[name]
        for name in V2_COLUMNS
    )


def _run(spark: SparkSession, exchange: str) -> FuzzRun:
    started = time.monotonic()
    values = FR.generated_frames(exchange, NOW, RECORDS_PER_EXCHANGE)
    expected = [FR.python_classification(exchange, v, NOW) for v in values]
    TIMES[f"{exchange} generate+python"] = time.monotonic() - started
    started = time.monotonic()
    topic = f"market.crypto.trades.{exchange}.raw"
    silver: list[tuple[Any, ...]] = []
    dlq: list[tuple[int, bytes | None, str]] = []
    for first in range(0, len(values), BATCH_SIZE):
        batch = values[first : first + BATCH_SIZE]
        kafka = kafka_source_df(spark, batch, topic=topic, first_offset=first, kafka_timestamp=NOW)
        classified = classify_bronze(
            to_bronze(kafka, now=NOW), exchange, FR.writer_jsons(exchange), validated_at=NOW
        )
        silver_df, dlq_df = split_classified(classified, exchange)
        silver += [tuple(r) for r in _silver_micros(silver_df).collect()]
        dlq += [
            (r.kafka_offset, None if r.raw_value is None else bytes(r.raw_value), r.error_type)
            for r in dlq_df.select("kafka_offset", "raw_value", "error_type").collect()
        ]
    TIMES[f"{exchange} spark"] = time.monotonic() - started
    OUTCOMES.update((exchange, c.outcome) for c in expected)
    return FuzzRun(exchange, values, expected, silver, dlq)


@pytest.fixture(scope="module", params=["binance", "kraken"])
def fuzz_run(request: pytest.FixtureRequest, spark: SparkSession) -> FuzzRun:
    return _run(spark, request.param)


def test_python_and_spark_classify_every_record_identically(fuzz_run: FuzzRun):
    run = fuzz_run
    spark_dlq = {offset: error for offset, _, error in run.dlq}
    assert len(spark_dlq) == len(run.dlq), "a record in the DLQ twice"
    python_dlq = {i: c.outcome for i, c in enumerate(run.expected) if c.outcome != FR.SILVER}
    mismatches = [
        (i, python_dlq.get(i, FR.SILVER), spark_dlq.get(i, FR.SILVER), run.values[i], run.expected[i].reason)
        for i in sorted(set(spark_dlq) | set(python_dlq))
        if spark_dlq.get(i) != python_dlq.get(i)
    ]
    assert not mismatches, "offset, Python, Spark, value, Python's reason:\n" + "\n".join(
        map(repr, mismatches)
    )
    # The same Silver rows (as a multiset: Silver rows carry no offset), all 15 fields.
    assert sorted(run.silver) == sorted(_python_row(c.v2) for c in run.expected if c.v2 is not None)
    assert len(run.silver) + len(run.dlq) == len(run.values)
    SEEN["agreement", run.exchange] += len(run.values)


def test_every_silver_row_is_a_strictly_valid_trade(fuzz_run: FuzzRun):
    assert fuzz_run.silver, "the generators made no valid trade"
    for row in fuzz_run.silver:
        problems = FR.strict_violations(dict(zip(V2_COLUMNS, row, strict=True)), NOW)
        assert not problems, (row, problems)
    SEEN["strict_rows", fuzz_run.exchange] += len(fuzz_run.silver)


def test_every_dlq_row_keeps_the_exact_raw_bytes(fuzz_run: FuzzRun):
    assert fuzz_run.dlq
    for offset, raw, _ in fuzz_run.dlq:
        assert raw == fuzz_run.values[offset], f"DLQ row at offset {offset} does not keep the raw bytes"
    SEEN["lossless_dlq", fuzz_run.exchange] += len(fuzz_run.dlq)
