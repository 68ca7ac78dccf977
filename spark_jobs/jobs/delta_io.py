"""Delta table bootstrap and exactly-once writes from foreachBatch.

Every foreachBatch append carries ``txnAppId``/``txnVersion``: when a batch is re-run after a crash
(Spark replays the last batch whose commit it did not record), Delta skips a version it already
holds for that app id, so the rows land once. The app id includes the streaming query's id, which
survives restarts from the same checkpoint but changes with a new checkpoint, so deleting a
checkpoint never makes Delta silently skip the new query's batches 0, 1, 2...
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType


def ensure_table(
    spark: SparkSession,
    uri: str,
    schema: StructType,
    partition_by: Sequence[str] = (),
    properties: Mapping[str, str] | None = None,
) -> None:
    """Create an empty Delta table at ``uri`` unless one exists, so downstream streams can start
    before upstream jobs wrote anything. Safe when two jobs race to create the same table."""
    if _has_commits(spark, uri):
        return
    builder = DeltaTable.createIfNotExists(spark).location(hadoop_form(uri)).addColumns(schema)
    if partition_by:
        builder = builder.partitionedBy(*partition_by)
    for key, value in (properties or {}).items():
        builder = builder.property(key, value)
    try:
        builder.execute()
    except Exception:
        # Lost a creation race (e.g. silver-kraken and bronze-kraken both creating Bronze): the
        # winner's first commit may still be landing, so give it a moment before giving up.
        if not _becomes_delta_table(spark, uri, timeout_seconds=60):
            raise


def _becomes_delta_table(spark: SparkSession, uri: str, timeout_seconds: float) -> bool:
    # Not DeltaTable.isDeltaTable: it answers from a DeltaLog cached while the path was still empty.
    deadline = time.monotonic() + timeout_seconds
    while not _has_commits(spark, uri):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def _has_commits(spark: SparkSession, uri: str) -> bool:
    """Whether the table's _delta_log holds a commit or checkpoint file (read from storage)."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    pattern = jvm.org.apache.hadoop.fs.Path(f"{uri.rstrip('/')}/_delta_log/*.{{json,parquet}}")
    fs = pattern.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    found = fs.globStatus(pattern)
    return found is not None and len(found) > 0


def hadoop_form(uri: str) -> str:
    """``file:///x`` as Hadoop prints it (``file:/x``): Delta's CREATE TABLE rejects a location that
    differs textually from the qualified path it derives, even when both name the same folder."""
    return "file:/" + uri[len("file:///") :] if uri.startswith("file:///") else uri


def append_exactly_once(
    df: DataFrame,
    uri: str,
    app_id: str,
    batch_id: int,
    partition_by: Sequence[str] = (),
    user_metadata: str | None = None,
) -> None:
    writer = df.write.format("delta").mode("append").option("txnAppId", app_id)
    writer = writer.option("txnVersion", batch_id)
    if user_metadata is not None:
        writer = writer.option("userMetadata", user_metadata)
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(uri)
