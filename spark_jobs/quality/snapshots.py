"""Consistent cuts of the tables, so conservation compares exactly what a job had committed.

A streaming job's checkpoint says which source versions its committed batches covered (``offsets/N``
holds the Delta source offset of batch N, ``commits/N`` appears once its writes are done). Reading
the checkpoint's newest commit, then pinning the sink tables' versions, then the newest planned
batch: when both name the same batch, the pinned sinks hold exactly batches 0..N, which covered
exactly the source versions up to the offset of batch N. Rows in flight then never look missing,
and one missing row is seen at once, whatever the rates.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

#: Delta's index for "before the first file of this version" in a source offset.
BASE_INDEX = -1


@dataclass(frozen=True)
class DeltaSourceOffset:
    reservoir_id: str  # the source table's Delta id
    reservoir_version: int
    index: int
    is_starting_version: bool


@dataclass(frozen=True)
class Cut:
    """Table versions that belong together: the sinks as pinned, the sources as processed."""

    batch_id: int
    sink_versions: dict[str, int]  # sink table uri -> version
    source_versions: dict[str, int]  # source table uri -> last version fully covered (-1: none)


def parse_offsets(text: str) -> list[DeltaSourceOffset]:
    """A checkpoint ``offsets/N`` file: a version line, the batch metadata, then one offset per source."""
    offsets = []
    for line in text.strip().splitlines()[2:]:
        data = json.loads(line)
        offsets.append(
            DeltaSourceOffset(
                str(data["reservoirId"]),
                int(data["reservoirVersion"]),
                int(data["index"]),
                bool(data.get("isStartingVersion", False)),
            )
        )
    return offsets


def _jvm_path(spark: SparkSession, uri: str) -> tuple[Any, Any]:
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path, path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())


def batch_ids(spark: SparkSession, folder_uri: str) -> list[int]:
    """The numbered files of a checkpoint folder (offsets/ or commits/), ascending."""
    path, fs = _jvm_path(spark, folder_uri)
    if not fs.exists(path):
        return []
    names = [status.getPath().getName() for status in fs.listStatus(path)]
    return sorted(int(name) for name in names if name.isdigit())


def read_text(spark: SparkSession, uri: str) -> str:
    path, fs = _jvm_path(spark, uri)
    stream = fs.open(path)
    try:
        jvm = spark.sparkContext._jvm
        assert jvm is not None
        return str(jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8"))
    finally:
        stream.close()


def latest_version(spark: SparkSession, table_uri: str) -> int:
    """The newest version of a Delta table, from its log listing (no Spark job: a cut is taken
    between two batches of a live job, so it must be quick)."""
    path, fs = _jvm_path(spark, f"{table_uri.rstrip('/')}/_delta_log")
    names = [status.getPath().getName() for status in fs.listStatus(path)]
    return max(int(name[:-5]) for name in names if name.endswith(".json") and name[:-5].isdigit())


def table_id(spark: SparkSession, table_uri: str) -> str:
    row = DeltaTable.forPath(spark, table_uri).detail().select("id").first()
    assert row is not None
    return str(row["id"])


def files_in(spark: SparkSession, table_uri: str, offset: DeltaSourceOffset) -> int:
    """How many files the source indexes in ``offset``'s version: the whole snapshot for the
    starting version, else the files that version added."""
    if offset.is_starting_version:
        snapshot = spark.read.format("delta").option("versionAsOf", offset.reservoir_version)
        return len(snapshot.load(table_uri).inputFiles())
    log_file = f"{table_uri.rstrip('/')}/_delta_log/{offset.reservoir_version:020d}.json"
    return sum(1 for line in read_text(spark, log_file).splitlines() if line.startswith('{"add"'))


def covered_version(spark: SparkSession, table_uri: str, offset: DeltaSourceOffset) -> int | None:
    """The newest source version a batch ending at ``offset`` covered completely; None when it
    stopped inside a version (maxFilesPerTrigger), which no version number describes."""
    if offset.index == BASE_INDEX:
        return offset.reservoir_version - 1
    if offset.index >= files_in(spark, table_uri, offset) - 1:
        return offset.reservoir_version
    return None


def consistent_cut(
    spark: SparkSession,
    checkpoint_uri: str,
    source_uris: list[str],
    sink_uris: list[str],
    timeout_seconds: float = 30.0,
    poll_seconds: float = 0.2,
) -> Cut | None:
    """Pin ``sink_uris`` at versions holding exactly the job's committed batches, and the versions of
    ``source_uris`` those batches covered. A live job leaves a gap between committing a batch and
    planning the next (its trigger interval minus the batch's duration): this polls for one. None
    when no batch has committed yet or no gap came within ``timeout_seconds``."""
    checkpoint = checkpoint_uri.rstrip("/")
    ids = {table_id(spark, uri): uri for uri in source_uris}
    deadline = time.monotonic() + timeout_seconds
    while True:
        commits = batch_ids(spark, f"{checkpoint}/commits")
        if not commits:
            return None
        sinks = {uri: latest_version(spark, uri) for uri in sink_uris}
        planned = batch_ids(spark, f"{checkpoint}/offsets")
        if planned and planned[-1] == commits[-1]:
            cut = _cut_at(spark, checkpoint, commits[-1], ids, sinks)
            if cut is not None:
                return cut
        if time.monotonic() > deadline:
            return None
        time.sleep(poll_seconds)


def _cut_at(
    spark: SparkSession, checkpoint: str, batch: int, ids: dict[str, str], sinks: dict[str, int]
) -> Cut | None:
    sources: dict[str, int] = {}
    for offset in parse_offsets(read_text(spark, f"{checkpoint}/offsets/{batch}")):
        uri = ids.get(offset.reservoir_id)
        version = covered_version(spark, uri, offset) if uri else None
        if uri is None or version is None:
            return None
        sources[uri] = version
    return Cut(batch, sinks, sources) if set(sources) == set(ids.values()) else None


def read_version(spark: SparkSession, table_uri: str, version: int, schema_source: DataFrame) -> DataFrame:
    """The table as of ``version``; version -1 (nothing covered yet) is an empty frame of its schema."""
    if version < 0:
        return spark.createDataFrame([], schema_source.schema)
    return spark.read.format("delta").option("versionAsOf", version).load(table_uri)
