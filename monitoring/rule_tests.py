"""promtool unit tests of the alert rules (``promtool test rules``), built from the same
:class:`~monitoring.alerts.Thresholds` as the rules, so "just under the threshold" follows it.

Per alert: series that fire it, healthy series that must not, and series just under the threshold
that must not. Expected annotations are rendered here from the rule's own templates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from monitoring.alerts import Thresholds, alert_rules

NS, PIPELINE = "trading", "crypto-trades"
GIB = 1024**3


@dataclass
class Case:
    """One promtool test group: input series, and the alerts expected of one rule at one time."""

    name: str
    alert: str
    series: dict[str, str]  # series selector -> promtool values ('0+10x20')
    eval_time: str
    expected: list[dict[str, str]] = field(default_factory=list)  # labels of each expected alert
    values: list[float] = field(default_factory=list)  # $value of each expected alert


def _labels(**labels: str) -> str:
    return ",".join(f'{k}="{v}"' for k, v in labels.items())


def _job_labels(job: str, **more: str) -> dict[str, str]:
    return {"namespace": NS, "pipeline": PIPELINE, "k2_job": job, **more}


def memory_cases(t: Thresholds) -> list[Case]:
    limit = GIB
    pod = {"namespace": NS, "pod": f"{PIPELINE}-gold-driver", "container": "driver"}

    def series(used: float, container: str = "driver") -> dict[str, str]:
        labels = {**pod, "container": container}
        return {
            f"container_memory_working_set_bytes{{{_labels(**labels)}}}": f"{used:.0f}x20",
            f"kube_pod_container_resource_limits{{{_labels(**labels, resource='memory', unit='byte')}}}": (
                f"{limit}x20"
            ),
        }

    over = (float(t.memory_limit_ratio) + 0.01) * limit
    under = (float(t.memory_limit_ratio) - 0.001) * limit
    return [
        Case("memory above the limit ratio fires", "SparkJobOOM", series(over), "10m",
             [{**pod, "severity": "warning"}], [round(over) / limit]),
        Case("memory just under the ratio is silent", "SparkJobOOM", series(under), "10m"),
        Case("half the limit is healthy", "SparkJobOOM", series(0.5 * limit), "10m"),
        Case("a container that is not Spark's is not watched", "SparkJobOOM",
             series(0.99 * limit, container="sidecar"), "10m"),
        Case("an OOMKilled driver fires at once", "SparkJobOOM",
             {f'kube_pod_container_status_terminated_reason{{{_labels(**pod, reason="OOMKilled")}}}': "0 0 1x5"},
             "3m", [{**pod, "severity": "critical"}], [1]),
        Case("a driver that exited with an error is no OOM", "SparkJobOOM",
             {f'kube_pod_container_status_terminated_reason{{{_labels(**pod, reason="Error")}}}': "0 0 1x5"},
             "3m"),
        Case("an executor restarted after an OOM kill fires", "SparkJobOOM",
             {f'kube_pod_container_status_last_terminated_reason{{{_labels(**pod, reason="OOMKilled")}}}': "1x10",
              f"kube_pod_container_status_restarts_total{{{_labels(**pod)}}}": "0 0 0 1x7"},
             "5m", [{**pod, "severity": "critical"}], [1]),
        Case("an old OOM kill with no restart since is silent", "SparkJobOOM",
             {f'kube_pod_container_status_last_terminated_reason{{{_labels(**pod, reason="OOMKilled")}}}': "1x30",
              f"kube_pod_container_status_restarts_total{{{_labels(**pod)}}}": "3x30"},
             "25m"),
    ]  # fmt: skip


def dlq_cases(t: Thresholds) -> list[Case]:
    def series(exchange: str, silver_per_min: int, dlq_per_min: int) -> dict[str, str]:
        job = f"silver-{exchange}"
        base = {"namespace": NS, "pipeline": PIPELINE, "k2_job": job, "exchange": exchange}
        return {
            f"k2_records_processed_total{{{_labels(**base, layer='silver')}}}": f"0+{silver_per_min}x30",
            f"k2_records_processed_total{{{_labels(**base, layer='dlq')}}}": f"0+{dlq_per_min}x30",
        }

    per_min = 10_000
    ratio = float(t.dlq_ratio)
    over = round(per_min * ratio * 2)
    under = round(per_min * (ratio - 0.001))
    at = round(per_min * ratio)
    firing = {"namespace": NS, "pipeline": PIPELINE, "exchange": "kraken", "severity": "warning"}
    return [
        Case("twice the DLQ ratio on one exchange fires for that exchange only", "DLQThresholdExceeded",
             {**series("kraken", per_min - over, over), **series("binance", per_min, 0)}, "25m",
             [firing], [over / per_min]),
        Case("a DLQ ratio just under the threshold is silent", "DLQThresholdExceeded",
             series("kraken", per_min - under, under), "25m"),
        Case("a DLQ ratio exactly at the threshold is silent", "DLQThresholdExceeded",
             series("kraken", per_min - at, at), "25m"),
        Case("no bad records is healthy", "DLQThresholdExceeded", series("kraken", per_min, 0), "25m"),
    ]  # fmt: skip


def checkpoint_cases(t: Thresholds) -> list[Case]:
    job = _job_labels("silver-binance")
    operator = {"namespace": "k2-system", "pod": "k2-operator-0", "pipeline_namespace": NS,
                "pipeline": PIPELINE, "k2_job": "silver-binance"}  # fmt: skip
    expected = [{**job, "severity": "critical"}]
    return [
        Case("a driver-side checkpoint failure fires", "CheckpointWriteFailed",
             {f"k2_checkpoint_failures_total{{{_labels(**job)}}}": "0 0 0 1x10"}, "5m", expected, [1]),
        Case("a checkpoint failure the operator read from the dead driver fires", "CheckpointWriteFailed",
             {f'k2_operator_job_failures_total{{{_labels(**operator, reason="checkpoint_write_failed")}}}':
              "0 0 1x10"}, "5m", expected, [1]),
        Case("other driver failures are not checkpoint failures", "CheckpointWriteFailed",
             {f'k2_operator_job_failures_total{{{_labels(**operator, reason="batch_failed")}}}': "0 0 1x10",
              f"k2_checkpoint_failures_total{{{_labels(**job)}}}": "0x12"}, "5m"),
        Case("a failure older than the window is silent", "CheckpointWriteFailed",
             {f"k2_checkpoint_failures_total{{{_labels(**job)}}}": "0 1x60"}, "40m"),
    ]  # fmt: skip


def e2e_cases(t: Thresholds) -> list[Case]:
    sla = float(t.e2e_p99_seconds)
    bounds = (sla / 2, sla, sla * 3)

    def series(bucket_index: int) -> dict[str, str]:
        """100 trades a minute, all in one bucket: (0, sla/2], (sla/2, sla] or (sla, 3 sla]."""
        out = {}
        for i, le in enumerate((*bounds, float("inf"))):
            le_text = "+Inf" if le == float("inf") else f"{le:g}"
            labels = _labels(namespace=NS, pipeline=PIPELINE, k2_job="gold", exchange="binance",
                             layer="gold", le=le_text)  # fmt: skip
            out[f"k2_e2e_latency_seconds_bucket{{{labels}}}"] = "0+100x30" if i >= bucket_index else "0x30"
        return out

    # p99 inside (sla, 3 sla], interpolated as Prometheus does.
    p99_over = bounds[1] + (bounds[2] - bounds[1]) * 0.99
    firing = {"namespace": NS, "pipeline": PIPELINE, "severity": "warning"}
    return [
        Case("p99 above the SLA fires", "E2ELatencySLABreach", series(2), "20m", [firing], [p99_over]),
        Case("p99 just under the SLA is silent", "E2ELatencySLABreach", series(1), "20m"),
        Case("fast trades are healthy", "E2ELatencySLABreach", series(0), "20m"),
    ]  # fmt: skip


def stall_cases(t: Thresholds) -> list[Case]:
    bronze = _job_labels("bronze-binance")
    topic = "market.crypto.trades.binance.raw"

    def processed(job: str, layer: str, values: str, exchange: str = "binance") -> dict[str, str]:
        return {
            f"k2_records_processed_total{{{_labels(**_job_labels(job), exchange=exchange, layer=layer)}}}": values
        }

    def silver(values: str) -> dict[str, str]:
        return {**processed("silver-binance", "silver", values), **processed("silver-binance", "dlq", "0x30")}

    lag = {f"k2_consumer_lag_records{{{_labels(**bronze, topic=topic)}}}": "500x30"}
    no_lag = {f"k2_consumer_lag_records{{{_labels(**bronze, topic=topic)}}}": "0x30"}
    gold_dupes = f"k2_duplicates_removed_total{{{_labels(**_job_labels('gold'))}}}"
    return [
        Case("Bronze: nothing processed while Kafka has records waiting fires", "JobStalled",
             {**processed("bronze-binance", "bronze", "100x30"), **lag}, "20m",
             [{**bronze, "severity": "critical"}], [500]),
        Case("Bronze: a quiet market (nothing behind in Kafka) is no stall", "JobStalled",
             {**processed("bronze-binance", "bronze", "100x30"), **no_lag}, "20m"),
        Case("Bronze: one record within the window is no stall", "JobStalled",
             {**processed("bronze-binance", "bronze", "100x15 101x15"), **lag}, "20m"),
        Case("Bronze: a busy job with lag is healthy", "JobStalled",
             {**processed("bronze-binance", "bronze", "0+100x30"), **lag}, "20m"),
        Case("Silver: nothing processed while Bronze takes records in fires", "JobStalled",
             {**processed("bronze-binance", "bronze", "0+100x30"), **silver("50x30")}, "20m",
             [{**_job_labels("silver-binance"), "exchange": "binance", "severity": "critical"}], [1000]),
        Case("Silver: a quiet market (Bronze idle too) is no stall", "JobStalled",
             {**processed("bronze-binance", "bronze", "50x30"), **silver("50x30")}, "20m"),
        Case("Gold: nothing merged while Silver commits fires", "JobStalled",
             {**silver("0+100x30"), **processed("gold", "gold", "50x30"), gold_dupes: "0x30"}, "20m",
             [{**_job_labels("gold"), "severity": "critical"}], [1000]),
        Case("Gold: only duplicates arriving is no stall", "JobStalled",
             {**silver("0+100x30"), **processed("gold", "gold", "50x30"), gold_dupes: "0+100x30"}, "20m"),
    ]  # fmt: skip


def quality_cases(t: Thresholds) -> list[Case]:
    def status(check: str, scope: str, values: str) -> dict[str, str]:
        labels = _labels(namespace=NS, pipeline=PIPELINE, check=check, scope=scope)
        return {f"k2_quality_check_status{{{labels}}}": values}

    firing = {"namespace": NS, "pipeline": PIPELINE, "check": "duplicates", "scope": "gold/message_id"}
    return [
        Case("a critical check fires for its check and scope", "DataQualityCheckCritical",
             {**status("duplicates", "gold/message_id", "0x5 2x20"), **status("freshness", "gold/binance", "0x25")},
             "20m", [{**firing, "severity": "critical"}], [2]),
        Case("a warning (just under critical) is silent", "DataQualityCheckCritical",
             status("freshness", "silver/kraken/BTC/USD", "1x25"), "20m"),
        Case("every check ok is healthy", "DataQualityCheckCritical", status("dlq_rate", "binance", "0x25"), "20m"),
    ]  # fmt: skip


def all_cases(t: Thresholds) -> list[Case]:
    return [
        *memory_cases(t),
        *dlq_cases(t),
        *checkpoint_cases(t),
        *e2e_cases(t),
        *stall_cases(t),
        *quality_cases(t),
    ]


# --- rendering the annotations the way Prometheus' templates do (the few functions the rules use) ---
def _humanize_percentage(value: float) -> str:
    return f"{value * 100:.4g}%"


def render(template: str, labels: dict[str, str], value: float) -> str:
    def substitute(match: re.Match[str]) -> str:
        expression = match.group(1).strip()
        if expression.startswith("$labels."):
            return labels.get(expression[len("$labels.") :], "")
        if expression == "$value | humanizePercentage":
            return _humanize_percentage(value)
        if expression == '$value | printf "%.0f"':
            return f"{value:.0f}"
        if expression == "$value":
            return f"{value:g}"
        raise ValueError(f"no renderer for template expression {expression!r}")

    return re.sub(r"\{\{(.*?)\}\}", substitute, template)


def _rule_for(t: Thresholds, alert: str, severity: str) -> dict[str, Any]:
    for rule in alert_rules(t):
        if rule["alert"] == alert and rule["labels"]["severity"] == severity:
            return rule
    raise KeyError((alert, severity))


def promtool_tests(t: Thresholds, rule_file: str) -> dict[str, Any]:
    groups = []
    for case in all_cases(t):
        expected = []
        for labels, value in zip(case.expected, case.values, strict=True):
            rule = _rule_for(t, case.alert, labels["severity"])
            annotations = {k: render(v, labels, value) for k, v in rule["annotations"].items()}
            expected.append({"exp_labels": labels, "exp_annotations": annotations})
        groups.append(
            {
                "name": case.name,
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in case.series.items()],
                "alert_rule_test": [
                    {"eval_time": case.eval_time, "alertname": case.alert, "exp_alerts": expected}
                ],
            }
        )
    return {"rule_files": [rule_file], "evaluation_interval": "1m", "tests": groups}
