"""A StreamingQueryListener that turns Spark's per-batch progress into each job's Prometheus metrics.

Queries are named after their job (``contracts.JOB_NAMES``); the listener routes by that name, so one
listener serves one job (a pod) or five (the local application). Counts that only the batch code
knows exactly (rows committed to Silver, the DLQ and Gold, latencies) are recorded there; this
listener records what Spark measures: batch duration, input rate, Bronze's observed rows, Gold's
dedup state and watermark drops, Kafka records behind the latest offset, and failed queries.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pyspark.sql.streaming import StreamingQueryListener

from spark_jobs.metrics import JobMetrics, is_checkpoint_failure

log = logging.getLogger("k2.jobs.listener")

#: Name of the observation Bronze attaches to its stream (rows and newest Kafka timestamp per batch).
BRONZE_OBSERVATION = "k2_bronze_batch"


class MetricsListener(StreamingQueryListener):
    def __init__(self, metrics_by_job: Mapping[str, JobMetrics]) -> None:
        self._metrics_by_job = dict(metrics_by_job)
        self._job_by_query_id: dict[str, str] = {}

    def onQueryStarted(self, event: Any) -> None:
        if event.name in self._metrics_by_job:
            self._job_by_query_id[str(event.id)] = event.name

    def onQueryProgress(self, event: Any) -> None:
        progress = event.progress
        metrics = self._metrics_by_job.get(progress.name)
        if metrics is None:
            return
        try:
            record_progress(metrics, progress)
        except Exception:  # a metrics bug must never stop the stream
            log.exception("could not record progress", extra={"job": metrics.job})

    def onQueryIdle(self, event: Any) -> None:
        pass

    def onQueryTerminated(self, event: Any) -> None:
        job = self._job_by_query_id.get(str(event.id))
        metrics = self._metrics_by_job.get(job) if job else None
        if metrics is not None and event.exception:
            metrics.record_failure(is_checkpoint_failure(event.exception))
            log.error("query failed", extra={"job": job, "error": event.exception[:2000]})


def record_progress(metrics: JobMetrics, progress: Any) -> None:
    trigger_ms = (progress.durationMs or {}).get("triggerExecution")
    rate = progress.inputRowsPerSecond
    metrics.record_progress(
        trigger_ms / 1000.0 if trigger_ms is not None else None,
        None if rate is None or rate != rate else float(rate),  # NaN when the batch had no input
    )
    _record_bronze_observation(metrics, progress.observedMetrics or {})
    _record_state_operators(metrics, progress.stateOperators or [])
    for source in progress.sources or []:
        _record_source_backlog(metrics, source)


def _record_bronze_observation(metrics: JobMetrics, observed: Mapping[str, Any]) -> None:
    row = observed.get(BRONZE_OBSERVATION)
    if row is None:
        return
    values = row.asDict()
    metrics.record_committed(metrics.exchange, int(values.get("rows") or 0))
    newest = values.get("newest_kafka_timestamp")
    if isinstance(newest, datetime):
        metrics.record_last_event_time(metrics.exchange, newest.timestamp())


def _record_state_operators(metrics: JobMetrics, operators: Any) -> None:
    if not operators:
        return
    dropped_late = sum(int(op.numRowsDroppedByWatermark or 0) for op in operators)
    dropped_duplicates = sum(
        int((op.customMetrics or {}).get("numDroppedDuplicateRows", 0)) for op in operators
    )
    if dropped_late:
        metrics.late_rows_dropped.labels(k2_job=metrics.job).inc(dropped_late)
    if dropped_duplicates:
        metrics.duplicates_removed.labels(k2_job=metrics.job).inc(dropped_duplicates)
    metrics.state_rows.labels(k2_job=metrics.job).set(sum(int(op.numRowsTotal or 0) for op in operators))


def kafka_records_behind(end_offset_json: str | None, latest_offset_json: str | None) -> dict[str, int]:
    """Records behind the latest offset per topic, from a Kafka source's progress offsets
    (``{"topic": {"partition": offset}}``): what the batch read up to vs what the broker had."""
    try:
        end = json.loads(end_offset_json or "null")
        latest = json.loads(latest_offset_json or "null")
    except ValueError:
        return {}
    if not isinstance(end, dict) or not isinstance(latest, dict):
        return {}
    behind: dict[str, int] = {}
    for topic, partitions in latest.items():
        if not isinstance(partitions, dict):
            continue
        read = end.get(topic) or {}
        behind[topic] = sum(max(0, int(offset) - int(read.get(p, 0))) for p, offset in partitions.items())
    return behind


def _record_source_backlog(metrics: JobMetrics, source: Any) -> None:
    # Kafka sources only: Delta 4.4's source reports no backlog (no latestOffset, no metrics), so
    # Silver's and Gold's waiting input is judged from their upstream's commits (alerts.JobStalled).
    if str(source.description or "").startswith("Kafka"):
        for topic, records in kafka_records_behind(source.endOffset, source.latestOffset).items():
            metrics.record_consumer_lag(topic, records)
