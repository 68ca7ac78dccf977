"""Gold: both Silver streams -> one deduplicated trade table with exchange_date / exchange_hour.

Deduplication is exact on message_id (deterministic: a replayed trade has the same id) and bounded by
the event-time watermark: dropDuplicatesWithinWatermark keeps an id's state only until the watermark
passes its timestamp, so state stays small; rows older than the watermark are dropped as late. The
Gold writer adds the insert-only MERGE on top.

Each exchange gets its OWN watermark, before the union, and Spark's global watermark is the minimum
of the two (``spark.sql.streaming.multipleWatermarkPolicy=min``, the default, set by the Gold job).
With one watermark over the union, Binance's newest trades would set it, and a lagging Kraken (its
Silver stopped longer than the delay, then resumed) would have its backlog dropped as late. With
one per exchange the slower one holds the watermark back: nothing of it is dropped; the price is
dedup state that grows while one exchange lags (bounded by lag x rate) and shrinks once it catches
up. Rows later than their own exchange's watermark are still dropped, stay in Silver, and are
counted in k2_late_rows_dropped_total (`k2 rebuild-gold` merges them).

message_id is recomputed here from the row's own columns with the one rule (normalization.message_id):
Silver rows written before the id carried the symbol still get today's id, so Gold's key never
depends on which version of Silver wrote a row.
"""

from __future__ import annotations

from typing import Final

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_jobs.normalization import message_id_col, utc_date_col, utc_hour_col
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


def with_current_message_id(silver: DataFrame) -> DataFrame:
    """message_id recomputed from exchange, symbol, timestamp and trade_id (see the module doc)."""
    micros = F.unix_micros(F.col(EVENT_TIME_COLUMN))
    message_id = message_id_col(F.col("exchange"), F.col("symbol"), micros, F.col("trade_id"))
    return silver.withColumn("message_id", message_id)


def to_gold(silver_binance: DataFrame, silver_kraken: DataFrame, watermark: str) -> DataFrame:
    """Union (by name) of both Silver DataFrames, deduplicated on message_id within `watermark`
    (e.g. "10 minutes") of each exchange's event time, with the UTC trade date and hour."""
    sources = [with_current_message_id(df.select(*V2_COLUMNS)) for df in (silver_binance, silver_kraken)]
    if sources[0].isStreaming:
        binance, kraken = (df.withWatermark(EVENT_TIME_COLUMN, watermark) for df in sources)
        deduplicated = binance.unionByName(kraken).dropDuplicatesWithinWatermark(list(DEDUP_KEY))
    else:  # a batch (backfill, tests): Spark has no watermark there; deduplicate over the whole input
        deduplicated = sources[0].unionByName(sources[1]).dropDuplicates(list(DEDUP_KEY))
    micros = F.unix_micros(F.col(EVENT_TIME_COLUMN))
    return deduplicated.withColumns(
        {"exchange_date": utc_date_col(micros), "exchange_hour": utc_hour_col(micros)}
    )
