"""Nothing dropped before the DLQ: what the feed cannot parse travels through the real broker and the
real Bronze and Silver jobs into dlq_trades, with its raw text and the feed's reason, while the good
trades of the same messages reach Silver."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from spark_jobs.contracts import DLQ_TABLE, EXCHANGES, bronze_table, silver_table
from spark_jobs.feeds import run_feed
from spark_jobs.rejected_frames import decode_rejected_frame
from spark_jobs.transforms.dlq import DlqErrorType
from tests.fixtures.kafka_fixtures import write_recording
from tests.fixtures.pipeline_fixtures import PipelineEnv, detach_listeners, run_available_now

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _kraken_trade(trade_id: int, at: datetime, price: object = 64000.5) -> dict[str, object]:
    return {
        "symbol": "BTC/USD", "side": "buy", "price": price, "qty": 0.25, "ord_type": "market",
        "trade_id": trade_id, "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }  # fmt: skip


def _binance_trade(trade_id: int, at: datetime) -> str:
    millis = int(at.timestamp() * 1000)
    data = {"e": "trade", "E": millis, "s": "ETHUSDT", "t": trade_id, "p": "3100.5", "q": "0.1",
            "T": millis, "m": False, "M": True}  # fmt: skip
    return json.dumps({"stream": "ethusdt@trade", "data": data})


def test_unparseable_frames_and_bad_trades_reach_the_dlq_with_raw_text_and_reason(
    spark, pipeline_env: PipelineEnv, tmp_path: Path
) -> None:
    at = datetime.now(UTC) - timedelta(seconds=30)
    mixed = json.dumps(
        {
            "channel": "trade",
            "type": "update",
            "data": [_kraken_trade(1, at), _kraken_trade(2, at, price="sixty k"), _kraken_trade(3, at)],
        }
    )
    kraken_garbage = ["<html>502 Bad Gateway</html>", '{"channel":"ticker","data":[{"symbol":"BTC/USD"}]}']
    binance_garbage = ['{"stream":"ethusdt@trade","data":{"e":"trade"']
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    write_recording(recordings / "kraken.jsonl", [mixed, *kraken_garbage, '{"channel":"heartbeat"}'])
    write_recording(recordings / "binance.jsonl", [_binance_trade(10, at), *binance_garbage])

    stats = run_feed(
        EXCHANGES, "replay", 0, None, pipeline_env.bootstrap_servers, pipeline_env.registry_url,
        speed=0, topics=pipeline_env.topics, samples_dir=recordings,
    )  # fmt: skip
    assert stats.errors == 0
    jobs = run_available_now(
        spark,
        pipeline_env.configs(),
        stages=[("bronze-binance", "bronze-kraken"), ("silver-binance", "silver-kraken")],
    )
    detach_listeners(spark, jobs.values())

    silver_ids = {
        e: sorted(r.trade_id for r in pipeline_env.read(spark, silver_table(e)).select("trade_id").collect())
        for e in EXCHANGES
    }
    assert silver_ids == {"binance": ["10"], "kraken": ["1", "3"]}  # the bad trade's siblings are kept
    dlq = pipeline_env.read(spark, DLQ_TABLE).where(
        F.col("error_type") == DlqErrorType.UNPARSEABLE_FRAME.value
    )
    rows = {(r.exchange, decode_rejected_frame(r.raw_value)["raw"]): r for r in dlq.collect()}
    assert sorted(rows) == sorted(
        [("kraken", mixed), *(("kraken", g) for g in kraken_garbage), ("binance", binance_garbage[0])]
    )
    assert "trade 2 of 3 (trade_id 2): kraken price: not a number" in rows[("kraken", mixed)].error_reason
    assert "not JSON" in rows[("kraken", kraken_garbage[0])].error_reason
    assert "unexpected channel 'ticker'" in rows[("kraken", kraken_garbage[1])].error_reason
    assert all(r.kafka_topic.endswith(".rejected") and r.kafka_offset >= 0 for r in rows.values())
    for exchange in EXCHANGES:  # every Bronze row, rejected frames included, is in Silver or the DLQ
        bronze = pipeline_env.read(spark, bronze_table(exchange)).count()
        in_dlq = pipeline_env.read(spark, DLQ_TABLE).where(F.col("exchange") == exchange).count()
        assert bronze == pipeline_env.read(spark, silver_table(exchange)).count() + in_dlq
