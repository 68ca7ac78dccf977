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
