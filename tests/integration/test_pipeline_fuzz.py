"""Fuzzed records through the real pipeline (broker, registry, the five jobs, Delta): a few thousand
seeded Bronze values from the fuzz generators next to valid trades. Every record lands in Silver xor
the DLQ with the outcome the Python rules give it (judged at its own Kafka timestamp, as Silver
judges it), no job fails, and Gold holds exactly the valid trades."""

from __future__ import annotations

import struct
from collections import Counter
from datetime import UTC, datetime

import pytest
from pyspark.sql import functions as F

from spark_jobs.contracts import DLQ_TABLE, EXCHANGES, GOLD_TABLE, bronze_table, silver_table
from spark_jobs.synthetic_trades import HEADER_LENGTH
from tests.fixtures import fuzz_records as FR
from tests.fixtures.pipeline_fixtures import (
    PipelineEnv,
    detach_listeners,
    live_trades,
    now_factory,
    run_available_now,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FUZZED_PER_EXCHANGE = 1500
VALID_PER_EXCHANGE = 200
#: A schema id no registry here has: fuzz frames written with an unregistered writer get it.
UNREGISTERED_ID = 2_000_000_000


def _registered(exchange: str, value: bytes | None, env: PipelineEnv) -> bytes | None:
    """The frame with the fuzz generators' current schema id replaced by the id the registry gave
    the same schema; any other id becomes an id the registry does not have."""
    if value is None or len(value) < HEADER_LENGTH or value[0] != 0:
        return value
    fuzz_id = struct.unpack(">I", value[1:HEADER_LENGTH])[0]
    current = next(iter(FR.WRITERS[exchange]))
    new_id = env.schema_ids[exchange] if fuzz_id == current else UNREGISTERED_ID
    return struct.pack(">BI", 0, new_id) + value[HEADER_LENGTH:]


def _expected(exchange: str, value: bytes | None, env: PipelineEnv, kafka_time: datetime) -> str:
    """The outcome of the Python rules for a produced value (registry ids mapped back)."""
    if value is not None and len(value) >= HEADER_LENGTH and value[0] == 0:
        registry_id = struct.unpack(">I", value[1:HEADER_LENGTH])[0]
        if registry_id != env.schema_ids[exchange]:
            return "unknown_schema_id"
        value = struct.pack(">BI", 0, next(iter(FR.WRITERS[exchange]))) + value[HEADER_LENGTH:]
    return FR.python_classification(exchange, value, kafka_time).outcome


def test_fuzzed_records_land_in_silver_xor_dlq_and_gold_holds_exactly_the_valid(spark, pipeline_env):
    env = pipeline_env
    factory = now_factory(seed=18)
    produced: Counter[str] = Counter()
    for exchange in EXCHANGES:
        frames = FR.generated_frames(exchange, datetime.now(UTC), FUZZED_PER_EXCHANGE)
        produced[exchange] += env.produce_values(
            exchange, [(b"FUZZ", _registered(exchange, v, env)) for v in frames]
        )
        produced[exchange] += env.produce_trades(exchange, live_trades(factory, exchange, VALID_PER_EXCHANGE))

    jobs = run_available_now(spark, env.configs())  # asserts that no job failed
    try:
        dlq = env.read(spark, DLQ_TABLE)
        gold_ids = {r.message_id for r in env.read(spark, GOLD_TABLE).select("message_id").collect()}
        expected_gold: set[str] = set()
        for exchange in EXCHANGES:
            bronze = env.read(spark, bronze_table(exchange)).select(
                "partition", "offset", "value", "kafka_timestamp"
            )
            expected: dict[tuple[int, int], str] = {}
            expected_silver: Counter[str] = Counter()
            for row in bronze.collect():
                value = None if row.value is None else bytes(row.value)
                kafka_time = row.kafka_timestamp.astimezone(UTC)
                outcome = _expected(exchange, value, env, kafka_time)
                expected[row.partition, row.offset] = outcome
                if outcome == FR.SILVER:
                    mapped = struct.pack(">BI", 0, next(iter(FR.WRITERS[exchange]))) + value[HEADER_LENGTH:]
                    v2 = FR.python_classification(exchange, mapped, kafka_time).v2
                    assert v2 is not None
                    expected_silver[v2["message_id"]] += 1
            assert len(expected) == produced[exchange]  # Bronze lost nothing

            dlq_rows = dlq.where(F.col("exchange") == exchange).collect()
            got_dlq = {(r.kafka_partition, r.kafka_offset): r.error_type for r in dlq_rows}
            assert len(got_dlq) == len(dlq_rows), "a record in the DLQ twice"
            want_dlq = {k: v for k, v in expected.items() if v != FR.SILVER}
            assert got_dlq == want_dlq
            silver_ids = Counter(
                r.message_id for r in env.read(spark, silver_table(exchange)).select("message_id").collect()
            )
            assert silver_ids == expected_silver
            assert sum(silver_ids.values()) + len(dlq_rows) == len(expected)  # Silver xor DLQ
            expected_gold |= set(expected_silver)
        assert gold_ids == expected_gold
    finally:
        detach_listeners(spark, jobs.values())
