"""Gold: both Silver streams -> one deduplicated trade table with exchange_date / exchange_hour.

Deduplication is exact on message_id (deterministic: a replayed trade has the same id) and bounded by
the event-time watermark: dropDuplicatesWithinWatermark keeps an id's state only until the watermark
passes its timestamp, so state stays small; rows older than the watermark are dropped as late. The
Gold writer adds the idempotent write (Delta txnAppId/txnVersion) on top.
"""

from __future__ import annotations

from typing import Final

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_jobs.normalization import utc_date_col, utc_hour_col
from spark_jobs.transforms.silver import V2_COLUMNS, V2_SCHEMA

EVENT_TIME_COLUMN: Final = "timestamp"
DEDUP_KEY: Final = ("message_id",)
GOLD_PARTITION_COLUMNS: Final = ("exchange_date", "exchange_hour")
GOLD_SCHEMA: Final = T.StructType(
    [
        *V2_SCHEMA.fields,
        T.StructField("exchange_date", T.DateType(), False),
        T.StructField("exchange_hour", T.IntegerType(), False),
    ]
)
GOLD_COLUMNS: Final = tuple(GOLD_SCHEMA.fieldNames())


def to_gold(silver_binance: DataFrame, silver_kraken: DataFrame, watermark: str) -> DataFrame:
    """Union (by name) of both Silver DataFrames, deduplicated on message_id within `watermark`
    (e.g. "10 minutes") of event time, with the UTC trade date and hour."""
    unioned = silver_binance.select(*V2_COLUMNS).unionByName(silver_kraken.select(*V2_COLUMNS))
    if unioned.isStreaming:
        watermarked = unioned.withWatermark(EVENT_TIME_COLUMN, watermark)
        deduplicated = watermarked.dropDuplicatesWithinWatermark(list(DEDUP_KEY))
    else:  # a batch (backfill, tests): Spark has no watermark there; deduplicate over the whole input
        deduplicated = unioned.dropDuplicates(list(DEDUP_KEY))
    micros = F.unix_micros(F.col(EVENT_TIME_COLUMN))
    return deduplicated.withColumns(
        {"exchange_date": utc_date_col(micros), "exchange_hour": utc_hour_col(micros)}
    )
