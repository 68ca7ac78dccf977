"""The recorded capture (spark_jobs/feeds/samples: several symbols per exchange sharing trade ids, a
Binance resend, a Kraken reconnect snapshot that resends recent trades) replayed through the feed and
the five jobs: Gold holds each distinct (exchange, symbol, trade id) of Silver once, and the same USD
value to the last decimal."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pyspark.sql import functions as F

from spark_jobs.contracts import EXCHANGES, GOLD_TABLE, silver_table
from spark_jobs.feeds import run_feed
from tests.fixtures.kafka_fixtures import sample_manifest
from tests.fixtures.pipeline_fixtures import PipelineEnv, detach_listeners, run_available_now

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: The capture's trades are from 2024, their Kafka timestamps from today: the age check must allow it.
CAPTURE_AGE = "36500 days"


def test_a_replayed_capture_keeps_every_distinct_trade_in_gold(spark, pipeline_env: PipelineEnv) -> None:
    env = pipeline_env
    manifest = sample_manifest()
    run_feed(
        EXCHANGES, "replay", 0, None, env.bootstrap_servers, env.registry_url, speed=0, topics=env.topics
    )
    jobs = run_available_now(spark, env.configs(max_trade_age=CAPTURE_AGE))
    try:
        silver = env.read(spark, silver_table(EXCHANGES[0])).unionByName(
            env.read(spark, silver_table(EXCHANGES[1]))
        )
        gold = env.read(spark, GOLD_TABLE)
        key = ["exchange", "symbol", "trade_id"]
        distinct_silver = silver.dropDuplicates(key)
        figures = {
            "silver rows": silver.count(),
            "distinct (exchange, symbol, trade id) in silver": distinct_silver.count(),
            "distinct trade ids alone": silver.select("exchange", "trade_id").distinct().count(),
            "gold rows": gold.count(),
        }
        print(figures)
        assert figures["silver rows"] == sum(manifest[e]["trades"] for e in EXCHANGES)
        assert figures["gold rows"] == figures["distinct (exchange, symbol, trade id) in silver"]
        assert figures["gold rows"] == sum(manifest[e]["distinct_trades"] for e in EXCHANGES)
        assert figures["distinct trade ids alone"] < figures["gold rows"], "the capture must share ids"
        assert gold.select(*key).distinct().count() == figures["gold rows"]
        silver_usd = distinct_silver.agg(F.sum("trade_value_usd")).first()[0]
        gold_usd = gold.agg(F.sum("trade_value_usd")).first()[0]
        print({"silver usd (distinct trades)": silver_usd, "gold usd": gold_usd})
        assert isinstance(gold_usd, Decimal) and gold_usd == silver_usd
    finally:
        detach_listeners(spark, jobs.values())
