"""Stopping a streaming query while its Python foreachBatch function runs (Ctrl-C of k2 local, SIGTERM
of a driver pod): the stop waits for the batch to end, so the batch completes and the query ends
without an error."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from spark_jobs.jobs.runner import stop_between_batches

pytestmark = pytest.mark.integration


def test_a_stop_lets_the_running_batch_finish_and_the_query_ends_cleanly(spark, tmp_path: Path) -> None:
    started, finished = threading.Event(), []

    def slow_batch(batch_df, batch_id: int) -> None:  # type: ignore[no-untyped-def]
        started.set()
        time.sleep(3)
        # A Py4J call after the stop was asked for: an interrupted batch fails right here.
        finished.append((batch_id, batch_df.count()))

    query = (
        spark.readStream.format("rate")
        .option("rowsPerSecond", 5)
        .load()
        .writeStream.foreachBatch(slow_batch)
        .option("checkpointLocation", str(tmp_path / "checkpoint"))
        .trigger(processingTime="1 second")
        .start()
    )
    try:
        assert started.wait(120), "no batch started"
        stop_between_batches(query, wait=60)
        assert not query.isActive
        assert query.exception() is None
        assert finished, "the running batch was interrupted instead of finishing"
    finally:
        query.stop()
