"""K2's three Grafana dashboards as plain Python (Grafana's JSON model, schemaVersion 39), templated
by datasource, namespace and pipeline: Spark Cluster Health, Pipeline Health, Data Quality.

Series and their labels: see monitoring.series. Spark's own metrics (JVM heap, executors) come from the
driver's `spark-ui` port, where the chart's PodMonitor adds ``k2_job`` from the pod label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from k2_operator.builders import DRIVER_CONTAINER, EXECUTOR_CONTAINER

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
#: The selector every K2 series of the chosen namespace(s) and pipeline(s) matches.
SEL = 'namespace=~"$namespace", pipeline=~"$pipeline"'
#: cAdvisor / kube-state-metrics series carry no pipeline label: pods are named after the pipeline.
POD_SEL = (
    f'namespace=~"$namespace", pod=~"($pipeline)-.*", container=~"{DRIVER_CONTAINER}|{EXECUTOR_CONTAINER}"'
)
OPERATOR_SEL = 'pipeline_namespace=~"$namespace", pipeline=~"$pipeline"'
RATE = "$__rate_interval"

#: Lines drawn on the panels (the design's targets; the alerts use their own, see alerts.Thresholds).
CPU_LINE = 0.8
MEMORY_LINE = 0.9
E2E_SLA_SECONDS = 300
DLQ_LINE = 0.01
QUALITY_CRITICAL = 2  # k2_quality_check_status of a critical check


@dataclass(frozen=True)
class Target:
    expr: str
    legend: str


def _panel(
    title: str,
    targets: list[Target],
    *,
    unit: str = "short",
    line: float | None = None,
    description: str = "",
    kind: str = "timeseries",
    width: int = 12,
) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": unit}
    if line is not None:
        defaults["thresholds"] = {
            "mode": "absolute",
            "steps": [{"color": "green", "value": None}, {"color": "red", "value": line}],
        }
        defaults["custom"] = {"thresholdsStyle": {"mode": "line"}}
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"w": width, "h": 8},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": t.expr, "legendFormat": t.legend}
            for i, t in enumerate(targets)
        ],
    }


def _variables() -> list[dict[str, Any]]:
    def query(name: str, expr: str) -> dict[str, Any]:
        return {
            "name": name,
            "label": name.capitalize(),
            "type": "query",
            "datasource": DATASOURCE,
            "query": {"query": expr, "refId": f"{name}-values"},
            "definition": expr,
            "refresh": 2,  # on time range change
            "includeAll": True,
            "multi": True,
            "current": {"selected": True, "text": "All", "value": "$__all"},
            "sort": 1,
        }

    return [
        {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
         "current": {"selected": True, "text": "Prometheus", "value": "prometheus"}},
        query("namespace", "label_values(k2_records_processed_total, namespace)"),
        query("pipeline", 'label_values(k2_records_processed_total{namespace=~"$namespace"}, pipeline)'),
    ]  # fmt: skip


def _dashboard(uid: str, title: str, description: str, panels: list[dict[str, Any]]) -> dict[str, Any]:
    x = y = 0
    laid_out = []
    for i, panel in enumerate(panels):
        w = panel["gridPos"]["w"]
        if x + w > 24:
            x, y = 0, y + 8
        laid_out.append({**panel, "id": i + 1, "gridPos": {**panel["gridPos"], "x": x, "y": y}})
        x += w
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["k2", "k2-streaming"],
        "timezone": "utc",
        "editable": False,
        "schemaVersion": 39,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": _variables()},
        "panels": laid_out,
    }


def spark_cluster_health() -> dict[str, Any]:
    def ratio(usage: str, resource: str) -> str:
        return (
            f"sum by (pod, container) ({usage})\n  /\n"
            f'sum by (pod, container) (kube_pod_container_resource_limits{{resource="{resource}", {POD_SEL}}})'
        )

    cpu = ratio(f"rate(container_cpu_usage_seconds_total{{{POD_SEL}}}[{RATE}])", "cpu")
    memory = ratio(f"container_memory_working_set_bytes{{{POD_SEL}}}", "memory")
    return _dashboard(
        "k2-spark-cluster-health",
        "K2 / Spark Cluster Health",
        "CPU and memory of every driver and executor pod against their limits, executors, JVM heap, restarts.",
        [
            _panel("CPU per driver/executor pod (of its limit)", [Target(cpu, "{{pod}} {{container}}")],
                   unit="percentunit", line=CPU_LINE),
            _panel("Memory per driver/executor pod (of its limit)", [Target(memory, "{{pod}} {{container}}")],
                   unit="percentunit", line=MEMORY_LINE),
            _panel("Active executors per job",
                   [Target(f'count by (k2_job) (metrics_executor_totalCores{{{SEL}, executor_id!="driver"}})',
                           "{{k2_job}}")],
                   description="Executors the driver knows of (Spark's executor metrics on the spark-ui port)."),
            _panel("Driver JVM heap",
                   [Target(f"sum by (k2_job) (metrics_k2_driver_jvm_heap_used_Value{{{SEL}}})", "{{k2_job}} used"),
                    Target(f"sum by (k2_job) (metrics_k2_driver_jvm_heap_max_Value{{{SEL}}})", "{{k2_job}} max")],
                   unit="bytes"),
            _panel("Driver restarts by the operator (1h)",
                   [Target(f"sum by (k2_job) (increase(k2_operator_job_restarts_total{{{OPERATOR_SEL}}}[1h]))",
                           "{{k2_job}}")]),
            _panel("Driver failures by reason (1h)",
                   [Target(f"sum by (k2_job, reason) (increase(k2_operator_job_failures_total{{{OPERATOR_SEL}}}[1h])) > 0",
                           "{{k2_job}} {{reason}}")]),
            _panel("Container restarts (executors restarted in place, 1h)",
                   [Target(f"sum by (pod, container) (increase(kube_pod_container_status_restarts_total{{{POD_SEL}}}[1h]))",
                           "{{pod}} {{container}}")], width=24),
        ],
    )  # fmt: skip


def _dlq_ratio(window: str) -> str:
    return (
        f'sum by (exchange) (rate(k2_records_processed_total{{{SEL}, layer="dlq"}}[{window}]))\n  /\n'
        f'sum by (exchange) (rate(k2_records_processed_total{{{SEL}, layer=~"silver|dlq"}}[{window}]))'
    )


def pipeline_health() -> dict[str, Any]:
    def latency(q: float) -> str:
        return (
            f"histogram_quantile({q}, sum by (le, layer) "
            f"(rate(k2_e2e_latency_seconds_bucket{{{SEL}}}[{RATE}])))"
        )

    return _dashboard(
        "k2-pipeline-health",
        "K2 / Pipeline Health",
        "Throughput, latency, DLQ share, batches, lag and failures of each job.",
        [
            _panel("Records per minute per job",
                   [Target(f"sum by (k2_job) (rate(k2_records_processed_total{{{SEL}}}[{RATE}])) * 60", "{{k2_job}}")]),
            _panel("End-to-end latency (trade -> table) p50 / p99",
                   [Target(latency(0.5), "p50 {{layer}}"), Target(latency(0.99), "p99 {{layer}}")],
                   unit="s", line=E2E_SLA_SECONDS, description="The line is the 5-minute SLA."),
            _panel("DLQ share of Silver's records", [Target(_dlq_ratio(RATE), "{{exchange}}")],
                   unit="percentunit", line=DLQ_LINE),
            _panel("Batch duration p99 / mean",
                   [Target(f"histogram_quantile(0.99, sum by (le, k2_job) "
                           f"(rate(k2_batch_processing_duration_seconds_bucket{{{SEL}}}[{RATE}])))", "p99 {{k2_job}}"),
                    Target(f"sum by (k2_job) (rate(k2_batch_processing_duration_seconds_sum{{{SEL}}}[{RATE}]))\n  /\n"
                           f"sum by (k2_job) (rate(k2_batch_processing_duration_seconds_count{{{SEL}}}[{RATE}]))",
                           "mean {{k2_job}}")], unit="s"),
            _panel("Input vs processing rate (records/s)",
                   [Target(f"sum by (k2_job) (k2_input_rows_per_second{{{SEL}}})", "input {{k2_job}}"),
                    Target(f"sum by (k2_job) (rate(k2_records_processed_total{{{SEL}}}[{RATE}]))",
                           "processed {{k2_job}}")]),
            _panel("Consumer lag (Kafka records behind the latest offset)",
                   [Target(f"sum by (k2_job, topic) (k2_consumer_lag_records{{{SEL}}})", "{{k2_job}} {{topic}}"),
                    Target(f'sum by (exchange) (rate(k2_records_processed_total{{{SEL}, layer="bronze"}}[{RATE}]))\n  -\n'
                           f'sum by (exchange) (rate(k2_records_processed_total{{{SEL}, layer=~"silver|dlq"}}[{RATE}]))',
                           "Silver behind Bronze {{exchange}} (records/s)")]),
            _panel("Failed batches",
                   [Target(f"sum by (k2_job) (increase(k2_batches_failed_total{{{SEL}}}[{RATE}]))", "driver {{k2_job}}"),
                    Target(f'sum by (k2_job) (increase(k2_operator_job_failures_total{{{OPERATOR_SEL}, '
                           f'reason="batch_failed"}}[{RATE}]))', "operator {{k2_job}}")]),
            _panel("Checkpoint failures",
                   [Target(f"sum by (k2_job) (increase(k2_checkpoint_failures_total{{{SEL}}}[{RATE}]))",
                           "driver {{k2_job}}"),
                    Target(f'sum by (k2_job) (increase(k2_operator_job_failures_total{{{OPERATOR_SEL}, '
                           f'reason="checkpoint_write_failed"}}[{RATE}]))', "operator {{k2_job}}")]),
        ],
    )  # fmt: skip


def data_quality() -> dict[str, Any]:
    return _dashboard(
        "k2-data-quality",
        "K2 / Data Quality",
        "Records per exchange and layer, validation failures, freshness, duplicates, conservation.",
        [
            _panel("Records per minute per exchange and layer",
                   [Target(f"sum by (exchange, layer) (rate(k2_records_processed_total{{{SEL}}}[{RATE}])) * 60",
                           "{{exchange}} {{layer}}")]),
            _panel("Validation failures by error type (per minute)",
                   [Target(f"sum by (exchange, error_type) (rate(k2_dlq_records_total{{{SEL}}}[{RATE}])) * 60",
                           "{{exchange}} {{error_type}}")]),
            _panel("Freshness: age of the newest committed event",
                   [Target(f"time() - max by (exchange, layer) (k2_last_processed_event_timestamp_seconds{{{SEL}}})",
                           "{{exchange}} {{layer}}")], unit="s",
                   description="Per exchange and layer; Bronze uses the Kafka timestamp."),
            _panel("Duplicates removed by Gold (per minute)",
                   [Target(f"sum (rate(k2_duplicates_removed_total{{{SEL}}}[{RATE}])) * 60", "duplicates"),
                    Target(f"sum (rate(k2_late_rows_dropped_total{{{SEL}}}[{RATE}])) * 60", "late rows dropped")]),
            _panel("Conservation: Bronze - (Silver + DLQ) over the range",
                   [Target(f'sum by (exchange) (increase(k2_records_processed_total{{{SEL}, layer="bronze"}}[$__range]))\n  -\n'
                           f'sum by (exchange) (increase(k2_records_processed_total{{{SEL}, layer=~"silver|dlq"}}[$__range]))',
                           "{{exchange}}")],
                   description="0 when every Bronze record reached Silver or the DLQ; positive while Silver lags.",
                   kind="stat"),
            _panel("DLQ share per exchange", [Target(_dlq_ratio(RATE), "{{exchange}}")], unit="percentunit",
                   line=DLQ_LINE),
            _panel("Quality checks: worst status per check (0 ok, 1 warning, 2 critical)",
                   [Target(f"max by (check) (k2_quality_check_status{{{SEL}}})", "{{check}}")],
                   line=QUALITY_CRITICAL, kind="stat",
                   description="From k2 quality (one process per pipeline): DLQ rate, freshness, "
                               "duplicates, conservation. Details per scope in the quality_checks table."),
            _panel("Quality checks: scopes not ok",
                   [Target(f"max by (check, scope) (k2_quality_check_status{{{SEL}}}) > 0", "{{check}} {{scope}}")],
                   line=QUALITY_CRITICAL),
            _panel("Quality check values (DLQ rate, conservation and duplicate rows)",
                   [Target(f'max by (check, scope) (k2_quality_check_value{{{SEL}, check=~"dlq_rate|conservation|duplicates"}})',
                           "{{check}} {{scope}}")]),
            _panel("Quality checks: seconds since the last run, and run time",
                   [Target(f"time() - max by (check) (k2_quality_check_last_run_timestamp_seconds{{{SEL}}})",
                           "{{check}} since last run"),
                    Target(f"max by (check) (k2_quality_check_duration_seconds{{{SEL}}})", "{{check}} run time")],
                   unit="s"),
        ],
    )  # fmt: skip


def dashboards() -> dict[str, dict[str, Any]]:
    """File name (without .json) -> dashboard."""
    return {
        "k2-spark-cluster-health": spark_cluster_health(),
        "k2-pipeline-health": pipeline_health(),
        "k2-data-quality": data_quality(),
    }


def expressions(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL expression of a dashboard: its panels' and its variables' selectors (the series
    of ``label_values(<selector>, <label>)``)."""
    variables = [v["query"]["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    selectors = [re.sub(r"^label_values\((.*),\s*\w+\)$", r"\1", q) for q in variables]
    return [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]] + selectors
