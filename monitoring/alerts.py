"""K2's alert rules (the design's five plus DataQualityCheckCritical) as a Prometheus rule group, built
from :class:`Thresholds` (every number and window is configurable; the chart renders the defaults,
tests pass short windows).

Each alert carries ``severity``, ``summary``, ``description`` and a ``runbook_url`` into
``docs/runbooks.md``. Series come from :mod:`monitoring.series` (a drift test checks that).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from k2_operator.builders import DRIVER_CONTAINER, EXECUTOR_CONTAINER

RUNBOOK_BASE_URL = "https://github.com/k2-streaming/k2/blob/main/docs/runbooks.md"
ALERT_NAMES: tuple[str, ...] = (
    "SparkJobOOM",
    "DLQThresholdExceeded",
    "CheckpointWriteFailed",
    "E2ELatencySLABreach",
    "JobStalled",
    "DataQualityCheckCritical",
)

#: The labels one pipeline's job is identified by in Prometheus (see monitoring.series).
JOB_LABELS = "namespace, pipeline, k2_job"


#: A threshold: a number, or (for the chart) a Helm expression passed through verbatim.
Number = float | str


def num(value: Number) -> str:
    return value if isinstance(value, str) else f"{value:g}"


@dataclass(frozen=True)
class Thresholds:
    """Every number the alerts compare against, and the windows they look over."""

    memory_limit_ratio: Number = 0.95  # working set / memory limit of a driver or executor container
    memory_for: str = "5m"
    spark_containers: str = f"{DRIVER_CONTAINER}|{EXECUTOR_CONTAINER}"  # container names (regex)
    dlq_ratio: Number = 0.05  # DLQ records / (Silver + DLQ records) per exchange
    dlq_window: str = "10m"
    dlq_for: str = "5m"
    checkpoint_window: str = "15m"  # how long one checkpoint failure keeps the alert firing
    e2e_p99_seconds: Number = 600.0  # p99 trade -> Gold
    e2e_window: str = "10m"
    e2e_for: str = "5m"
    stall_window: str = "10m"  # no record processed for this long while input waits
    stall_for: str = "2m"
    #: A data-quality check (k2 quality) critical this long; its status changes once per check run.
    quality_for: str = "1m"
    runbook_base_url: str = RUNBOOK_BASE_URL
    #: Evaluation interval of the group (kube-prometheus-stack's default is 30 s).
    interval: str = "30s"


def _runbook(t: Thresholds, alert: str) -> str:
    return f"{t.runbook_base_url}#{alert.lower()}"


def _alert(
    t: Thresholds, name: str, expr: str, for_: str, severity: str, summary: str, description: str
) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": name, "expr": expr}
    if for_ not in ("", "0", "0s", "0m"):
        rule["for"] = for_
    rule["labels"] = {"severity": severity}
    rule["annotations"] = {
        "summary": summary,
        "description": description,
        "runbook_url": _runbook(t, name),
    }
    return rule


def memory_near_limit_expr(t: Thresholds) -> str:
    containers = f'container=~"{t.spark_containers}"'
    return (
        f"max by (namespace, pod, container) (container_memory_working_set_bytes{{{containers}}})\n"
        f"  / on (namespace, pod, container)\n"
        f'max by (namespace, pod, container) (kube_pod_container_resource_limits{{resource="memory", '
        f"{containers}}})\n"
        f"  > {num(t.memory_limit_ratio)}"
    )


def oom_killed_expr(t: Thresholds) -> str:
    containers = f'container=~"{t.spark_containers}"'
    # Drivers never restart in place (restartPolicy Never: the operator replaces them), so a killed
    # driver shows as terminated now; an executor the kubelet restarted shows its last termination.
    return (
        "max by (namespace, pod, container) (kube_pod_container_status_terminated_reason"
        f'{{reason="OOMKilled", {containers}}}) == 1\n'
        "or\n"
        "max by (namespace, pod, container) (kube_pod_container_status_last_terminated_reason"
        f'{{reason="OOMKilled", {containers}}}) == 1\n'
        "  and on (namespace, pod, container)\n"
        "max by (namespace, pod, container) "
        f"(increase(kube_pod_container_status_restarts_total{{{containers}}}[10m])) > 0"
    )


def dlq_ratio_expr(t: Thresholds) -> str:
    w = t.dlq_window
    return (
        f'sum by (namespace, pipeline, exchange) (increase(k2_records_processed_total{{layer="dlq"}}[{w}]))\n'
        "  /\n"
        "sum by (namespace, pipeline, exchange) "
        f'(increase(k2_records_processed_total{{layer=~"silver|dlq"}}[{w}]))\n'
        f"  > {num(t.dlq_ratio)}"
    )


def checkpoint_failed_expr(t: Thresholds) -> str:
    w = t.checkpoint_window
    # The driver's counter is seen only when a scrape catches it before the driver exits; the
    # operator's count (from the driver's termination message) outlives the driver. Either fires.
    return (
        f"sum by ({JOB_LABELS}) (increase(k2_checkpoint_failures_total[{w}])) > 0\n"
        "or\n"
        f"sum by ({JOB_LABELS}) (label_replace(\n"
        '  increase(k2_operator_job_failures_total{reason="checkpoint_write_failed"}'
        f"[{w}]),\n"
        '  "namespace", "$1", "pipeline_namespace", "(.*)"\n'
        ")) > 0"
    )


def e2e_p99_expr(t: Thresholds) -> str:
    return (
        "histogram_quantile(0.99,\n"
        "  sum by (namespace, pipeline, le) "
        f'(rate(k2_e2e_latency_seconds_bucket{{layer="gold"}}[{t.e2e_window}]))\n'
        f") > {num(t.e2e_p99_seconds)}"
    )


def stalled_expr(t: Thresholds) -> str:
    """A job that committed nothing over the window while its input had records waiting: for Bronze,
    Kafka records behind the latest offset; for Silver, records its exchange's Bronze committed in
    the window; for Gold, records Silver committed (Gold's duplicates count as handled). With nothing
    waiting, a job that commits nothing is a quiet market. (Delta's source reports no backlog.)"""
    w = t.stall_window
    records = "k2_records_processed_total"
    return (
        f"(sum by ({JOB_LABELS}) (k2_consumer_lag_records) > 0)\n"
        f"  and on ({JOB_LABELS})\n"
        f"(sum by ({JOB_LABELS}) (increase({records}[{w}])) == 0)\n"
        "or\n"
        "label_replace(\n"
        f'  sum by (namespace, pipeline, exchange) (increase({records}{{layer="bronze"}}[{w}])) > 0\n'
        "    and on (namespace, pipeline, exchange)\n"
        f'  sum by (namespace, pipeline, exchange) (increase({records}{{layer=~"silver|dlq"}}[{w}])) == 0,\n'
        '  "k2_job", "silver-$1", "exchange", "(.*)"\n'
        ")\n"
        "or\n"
        "label_replace(\n"
        f'  sum by (namespace, pipeline) (increase({records}{{layer="silver"}}[{w}])) > 0\n'
        "    and on (namespace, pipeline)\n"
        "  (\n"
        f'    sum by (namespace, pipeline) (increase({records}{{k2_job="gold"}}[{w}]))\n'
        f'    + sum by (namespace, pipeline) (increase(k2_duplicates_removed_total{{k2_job="gold"}}[{w}]))\n'
        "  ) == 0,\n"
        '  "k2_job", "gold", "", ""\n'
        ")"
    )


def quality_critical_expr(t: Thresholds) -> str:
    # k2_quality_check_status: 0 ok, 1 warning, 2 critical (spark_jobs.quality.checks.Status).
    return "max by (namespace, pipeline, check, scope) (k2_quality_check_status) >= 2"


def alert_rules(t: Thresholds | None = None) -> list[dict[str, Any]]:
    t = t or Thresholds()
    return [
        _alert(
            t,
            "SparkJobOOM",
            memory_near_limit_expr(t),
            t.memory_for,
            "warning",
            "A Spark container is near its memory limit.",
            f"Container {{{{ $labels.container }}}} of pod {{{{ $labels.namespace }}}}/{{{{ $labels.pod }}}} "
            f"has used more than {num(t.memory_limit_ratio)} of its memory limit for {t.memory_for} "
            "({{ $value | humanizePercentage }}); the kernel will OOM-kill it next.",
        ),
        _alert(
            t,
            "SparkJobOOM",
            oom_killed_expr(t),
            "",
            "critical",
            "A Spark container was OOM-killed.",
            "Container {{ $labels.container }} of pod {{ $labels.namespace }}/{{ $labels.pod }} was "
            "killed for exceeding its memory limit (OOMKilled).",
        ),
        _alert(
            t,
            "DLQThresholdExceeded",
            dlq_ratio_expr(t),
            t.dlq_for,
            "warning",
            "Too many records go to the dead-letter queue.",
            "{{ $value | humanizePercentage }} of the {{ $labels.exchange }} records of pipeline "
            "{{ $labels.namespace }}/{{ $labels.pipeline }} went to the DLQ over the last "
            f"{t.dlq_window} (threshold {num(t.dlq_ratio)}).",
        ),
        _alert(
            t,
            "CheckpointWriteFailed",
            checkpoint_failed_expr(t),
            "",
            "critical",
            "A streaming job failed to write its checkpoint.",
            "Job {{ $labels.k2_job }} of pipeline {{ $labels.namespace }}/{{ $labels.pipeline }} stopped "
            f"on a checkpoint write failure in the last {t.checkpoint_window}; it restarts from the last "
            "committed checkpoint, but keeps failing until the storage is fixed.",
        ),
        _alert(
            t,
            "E2ELatencySLABreach",
            e2e_p99_expr(t),
            t.e2e_for,
            "warning",
            "Trades reach Gold later than the SLA.",
            "The p99 latency from trade to Gold of pipeline {{ $labels.namespace }}/{{ $labels.pipeline }} "
            f'is {{{{ $value | printf "%.0f" }}}} s over {t.e2e_window} (SLA '
            f"{num(t.e2e_p99_seconds)} s).",
        ),
        _alert(
            t,
            "JobStalled",
            stalled_expr(t),
            t.stall_for,
            "critical",
            "A streaming job processes nothing while its input waits.",
            "Job {{ $labels.k2_job }} of pipeline {{ $labels.namespace }}/{{ $labels.pipeline }} has "
            f"committed no record for {t.stall_window} although its input has records waiting.",
        ),
        _alert(
            t,
            "DataQualityCheckCritical",
            quality_critical_expr(t),
            t.quality_for,
            "critical",
            "A data-quality check is critical.",
            "Check {{ $labels.check }} is critical for {{ $labels.scope }} in pipeline "
            "{{ $labels.namespace }}/{{ $labels.pipeline }} (value {{ $value }}); the quality_checks "
            "table holds the measured value and which side is short.",
        ),
    ]


def rule_groups(t: Thresholds | None = None) -> dict[str, Any]:
    """A Prometheus rule file (also the ``spec`` of the chart's PrometheusRule)."""
    t = t or Thresholds()
    return {"groups": [{"name": "k2-streaming.alerts", "interval": t.interval, "rules": alert_rules(t)}]}
