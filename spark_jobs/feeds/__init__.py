"""Exchange feeds: Binance and Kraken trades from live websockets, a recorded replay or a synthetic
generator, parsed the same way and produced to Kafka in Confluent Avro wire format.

`run_feed(...)` runs one in-process; `k2 feed ...` is the command line (spark_jobs.feeds.cli).
"""

from spark_jobs.feeds.runner import FeedConfig, feed, run_feed
from spark_jobs.feeds.stats import ExchangeStats, FeedStats

__all__ = ["ExchangeStats", "FeedConfig", "FeedStats", "feed", "run_feed"]
