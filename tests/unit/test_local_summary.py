"""`k2 local`'s end-of-run checks: a run stopped before its jobs caught up must not report the gap
between layers as a failure (it is the lag the next run resumes from), while a drained run must."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import pytest
from rich.console import Console

from spark_jobs.contracts import DLQ_TABLE, GOLD_TABLE, bronze_table, silver_table
from spark_jobs.local.summary import Summary, print_summary, summary_checks

pytestmark = pytest.mark.unit


def summary_with(gold_rows: int, silver_binance: int) -> Summary:
    """Binance: 100 in Bronze, 2 in the DLQ (both injected); kraken fully processed; Gold at `gold_rows`."""
    rows = {
        bronze_table("binance"): 100,
        silver_table("binance"): silver_binance,
        bronze_table("kraken"): 50,
        silver_table("kraken"): 50,
        DLQ_TABLE: 2,
        GOLD_TABLE: gold_rows,
    }
    return Summary(
        tables_root=Path("/data/tables"),
        rows=rows,
        dlq_by_error_type={"avro_decode_error": 2},
        dlq_by_exchange={"binance": 2},
        gold_distinct_message_ids=gold_rows,
        silver_distinct_message_ids=silver_binance + 50,
        injected=Counter({"avro_decode_error": 2}),
        dlq_expectation_known=True,
        dlq_example_reason={"avro_decode_error": "not an Avro body"},
        duplicates_removed_this_run=0,
        latency_p50_p99={},
    )


def test_a_caught_up_run_passes_every_check():
    checks = summary_checks(summary_with(gold_rows=148, silver_binance=98), drained=True)
    assert [ok for _, ok in checks] == [True, True, True, True]


@pytest.mark.parametrize("drained", [True, False])
def test_layers_behind_each_other_fail_only_when_the_jobs_drained(drained):
    # Silver is 10 records behind Bronze, Gold 20 behind Silver
    summary = summary_with(gold_rows=118, silver_binance=88)
    results = dict(summary_checks(summary, drained))
    behind = [
        results["binance: bronze = silver + dlq"],
        results["gold rows = distinct silver message_ids (138)"],
    ]
    assert behind == ([False, False] if drained else [None, None])
    assert results["kraken: bronze = silver + dlq"] is True  # a check that holds is still reported as passed

    out = io.StringIO()
    print_summary(summary, Path("/data"), Console(file=out, width=200), drained=drained)
    text = out.getvalue()
    assert ("FAIL" in text) is drained
    assert ("not checked: the jobs had not drained" in text) is (not drained)
