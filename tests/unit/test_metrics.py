"""The metrics module: names, exact histogram feeding, quantiles, and a real HTTP scrape."""

from __future__ import annotations

import io
import json
import logging
import math
import sys
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from spark_jobs import metrics as m
from spark_jobs.logging_setup import JsonFormatter, configure_json_logging, job_logger

pytestmark = pytest.mark.unit


def scrape(port: int) -> dict[str, list]:
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return {family.name: family.samples for family in text_string_to_metric_families(body)}


def test_every_name_is_k2_prefixed_and_unique():
    assert len(set(m.METRIC_NAMES)) == len(m.METRIC_NAMES)
    assert all(name.startswith("k2_") for name in m.METRIC_NAMES)
    for required in (
        "k2_records_processed_total",
        "k2_dlq_records_total",
        "k2_batch_processing_duration_seconds",
        "k2_e2e_latency_seconds",
        "k2_last_processed_event_timestamp_seconds",
        "k2_checkpoint_failures_total",
        "k2_input_rows_per_second",
        "k2_batches_failed_total",
        "k2_duplicates_removed_total",
    ):
        assert required in m.METRIC_NAMES


def test_a_scrape_exposes_every_declared_family():
    job = m.JobMetrics("silver-binance", "silver", "binance")
    job.record_committed("binance", 3)
    job.record_dlq("binance", {"bad_magic_byte": 1})
    job.record_latencies("binance", [m.LatencyBucketCount(2.0, 1, 1.5)])
    job.record_last_event_time("binance", 1_700_000_000.0)
    job.record_progress(0.4, 12.5)
    job.record_consumer_lag("market.crypto.trades.binance.raw", 0)
    exposed = set()
    for family in job.registry.collect():
        exposed.update(sample.name for sample in family.samples)
    for name in m.METRIC_NAMES:
        assert name in exposed or name + "_bucket" in exposed, name


def test_counts_reach_the_http_endpoint():
    job = m.JobMetrics("silver-kraken", "silver", "kraken")
    port = job.serve(0, "127.0.0.1")
    job.record_committed("kraken", 41)
    job.record_dlq("kraken", {"non_positive_price": 2, "empty_symbol": 1})
    samples = scrape(port)
    processed = {
        (s.labels["layer"], s.labels["exchange"]): s.value
        for s in samples["k2_records_processed"]
        if s.name == "k2_records_processed_total"
    }
    assert processed == {("silver", "kraken"): 41.0, ("dlq", "kraken"): 3.0}
    dlq = {s.labels["error_type"]: s.value for s in samples["k2_dlq_records"] if s.name.endswith("_total")}
    assert dlq == {"non_positive_price": 2.0, "empty_symbol": 1.0}


def test_latency_buckets_are_reproduced_exactly():
    job = m.JobMetrics("gold", "gold", None)
    job.record_latencies(
        "binance",
        [m.LatencyBucketCount(5.0, 4, 18.0), m.LatencyBucketCount(10.0, 2, 15.0),
         m.LatencyBucketCount(math.inf, 1, 4000.0)],
    )  # fmt: skip
    cumulative = dict(job.latency_buckets())
    assert cumulative[4.0] == 0
    assert cumulative[5.0] == 4
    assert cumulative[10.0] == 6
    assert cumulative[3600.0] == 6
    assert cumulative[math.inf] == 7
    assert job.value("k2_e2e_latency_seconds_sum") == pytest.approx(18.0 + 15.0 + 4000.0)
    assert job.value("k2_e2e_latency_seconds_count") == 7


def test_bucket_quantile_interpolates_like_prometheus():
    cumulative = [(1.0, 0.0), (2.0, 50.0), (4.0, 100.0), (math.inf, 100.0)]
    assert m.bucket_quantile(0.5, cumulative) == pytest.approx(2.0)
    assert m.bucket_quantile(0.25, cumulative) == pytest.approx(1.5)
    assert m.bucket_quantile(0.99, cumulative) == pytest.approx(2.0 + 2.0 * 49 / 50)
    assert m.bucket_quantile(0.5, []) is None
    assert m.bucket_quantile(0.99, [(1.0, 1.0), (math.inf, 100.0)]) == 1.0


def test_last_event_time_never_goes_backwards():
    job = m.JobMetrics("bronze-binance", "bronze", "binance")
    job.record_last_event_time("binance", 200.0)
    job.record_last_event_time("binance", 100.0)
    assert job.value("k2_last_processed_event_timestamp_seconds", exchange="binance") == 200.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("java.io.IOException: cannot write to checkpoint file:/x/offsets/3", True),
        ("org.apache.spark.sql.execution.streaming.HDFSMetadataLog failed", True),
        ("ArithmeticException: divide by zero", False),
        (None, False),
    ],
)
def test_checkpoint_failures_are_told_apart(text, expected):
    assert m.is_checkpoint_failure(text) is expected


def test_failures_count_batches_and_checkpoint_failures_separately():
    job = m.JobMetrics("gold", "gold", None)
    job.record_failure(checkpoint_related=True)
    job.record_failure(checkpoint_related=False)
    assert job.value("k2_batches_failed_total") == 2
    assert job.value("k2_checkpoint_failures_total") == 1


def test_json_logs_carry_job_context_and_batch_id():
    stream = io.StringIO()
    configure_json_logging(stream=stream)
    try:
        job_logger("silver-binance", "silver", "binance").info("batch committed", extra={"batch_id": 7})
    finally:
        configure_json_logging()  # back to stderr
    entry = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert entry["message"] == "batch committed"
    assert (entry["job"], entry["exchange"], entry["layer"], entry["batch_id"]) == (
        "silver-binance",
        "binance",
        "silver",
        7,
    )


def test_json_formatter_includes_exceptions():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("k2", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "ERROR"
    assert "ValueError: boom" in entry["exception"]


def test_no_metric_uses_a_label_prometheus_sets_on_every_target():
    """Walks every registry K2 exports (a job's and the operator's) with every child created."""
    from k2_operator import operator_metrics
    from prometheus_client import REGISTRY

    operator_metrics.start_job_series("ns", "p", ["gold"])
    job = m.JobMetrics("bronze-binance", "bronze", "binance")
    job.record_committed("binance", 1)
    job.record_dlq("binance", {"bad_magic_byte": 1})
    job.record_latencies("binance", [m.LatencyBucketCount(2.0, 1, 1.5)])
    job.record_last_event_time("binance", 1.0)
    job.record_progress(0.4, 1.0)
    job.record_consumer_lag("t", 3)
    quality = m.QualityMetrics()
    quality.record_run("freshness", [("silver/binance/BTC/USDT", 0, 3.0)], 0.5, 1.0)
    seen: dict[str, set[str]] = {}
    for registry in (job.registry, quality.registry, REGISTRY):
        for family in registry.collect():
            if not family.name.startswith("k2_"):
                continue
            for sample in family.samples:
                seen.setdefault(family.name, set()).update(sample.labels)
    assert {name for name in seen if name.startswith("k2_operator")}, "operator metrics not registered"
    assert len(seen) >= len(m.METRIC_NAMES)
    clashes = {
        name: labels & m.RESERVED_LABELS for name, labels in seen.items() if labels & m.RESERVED_LABELS
    }
    assert clashes == {}


def test_kafka_lag_is_latest_minus_read_per_topic():
    from spark_jobs.jobs.listener import kafka_records_behind

    end = '{"a": {"0": 10, "1": 5}, "b": {"0": 7}}'
    latest = '{"a": {"0": 12, "1": 5, "2": 4}, "b": {"0": 7}}'
    assert kafka_records_behind(end, latest) == {"a": 2 + 0 + 4, "b": 0}
    assert kafka_records_behind(None, latest) == {}  # no batch read yet: unknown, not 0
    assert kafka_records_behind("not json", latest) == {}


def test_listener_records_source_backlog_from_progress():
    from types import SimpleNamespace

    from spark_jobs.jobs.listener import record_progress

    job = m.JobMetrics("silver-kraken", "silver", "kraken")
    kafka = SimpleNamespace(
        description="KafkaV2[Subscribe[market.crypto.trades.kraken.raw]]",
        endOffset='{"market.crypto.trades.kraken.raw": {"0": 90}}',
        latestOffset='{"market.crypto.trades.kraken.raw": {"0": 100}}',
        metrics={},
    )
    delta = SimpleNamespace(
        description="DeltaSource[file:/tmp/x/bronze_kraken_trades]",
        endOffset=None,
        latestOffset=None,
        metrics={},  # what Delta 4.4's source reports
    )
    progress = SimpleNamespace(
        durationMs={"triggerExecution": 500},
        inputRowsPerSecond=float("nan"),
        observedMetrics={},
        stateOperators=[],
        sources=[kafka, delta],
    )
    record_progress(job, progress)
    assert job.value("k2_consumer_lag_records", topic="market.crypto.trades.kraken.raw") == 10
    assert job.value("k2_consumer_lag_records") == 10  # the Delta source adds nothing


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        ("java.io.IOException: cannot write to checkpoint file:/x/commits/3", "checkpoint_write_failed"),
        ("ArithmeticException: divide by zero", "batch_failed"),
    ],
)
def test_a_failed_job_writes_its_reason_to_the_termination_message(tmp_path, monkeypatch, error, reason):
    from spark_jobs.jobs.__main__ import termination_reason, write_termination_message

    monkeypatch.setenv("K2_TERMINATION_LOG", str(tmp_path / "termination-log"))
    assert termination_reason(error) == reason
    path = write_termination_message(termination_reason(error), error)
    assert path is not None
    assert path.read_text().splitlines()[:2] == [reason, error]
