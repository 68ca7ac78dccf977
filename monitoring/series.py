"""Every metric name the rules and dashboards may use: what K2's code exports (imported from the
metric modules, never restated) and the kube-prometheus-stack series they rely on, documented here.

The labels a series carries in Prometheus are the metric's own plus what the scrape adds. For the
drivers the chart's PodMonitor adds ``namespace``, ``pod``, ``container`` and ``pipeline`` (from the pod
label ``k2.dev/pipeline``); ``k2_job``, ``exchange`` and ``layer`` are the metric's own.
"""

from __future__ import annotations

from k2_operator import operator_metrics

from spark_jobs import metrics as job_metrics

#: Series K2's own code exports: the jobs' registry, Spark's JVM source on the driver, the operator.
K2_SERIES: frozenset[str] = frozenset(
    (
        *job_metrics.METRIC_NAMES,
        *job_metrics.SPARK_METRIC_NAMES,
        *job_metrics.QUALITY_METRIC_NAMES,
        *operator_metrics.METRIC_NAMES,
    )
)

#: Series kube-prometheus-stack collects on its own (its default cAdvisor / kubelet and
#: kube-state-metrics scrape configs), with where each comes from.
KUBE_PROMETHEUS_SERIES: dict[str, str] = {
    "container_memory_working_set_bytes": "cAdvisor (kubelet /metrics/cadvisor): a container's memory",
    "container_cpu_usage_seconds_total": "cAdvisor (kubelet /metrics/cadvisor): a container's CPU time",
    "kube_pod_container_resource_limits": "kube-state-metrics: a container's limits (resource, unit)",
    "kube_pod_container_status_restarts_total": "kube-state-metrics: container restarts",
    "kube_pod_container_status_terminated_reason": "kube-state-metrics: why a container is terminated now",
    "kube_pod_container_status_last_terminated_reason": "kube-state-metrics: why it last terminated",
    "kube_pod_labels": "kube-state-metrics: a pod's labels (only those in metricLabelsAllowlist)",
}

#: Suffixes a histogram's or counter's series carry on top of the family name.
_SUFFIXES = ("_bucket", "_sum", "_count", "_created")


def family_of(series: str) -> str:
    """The metric family a series name belongs to (``k2_e2e_latency_seconds_bucket`` -> the histogram)."""
    known = K2_SERIES | KUBE_PROMETHEUS_SERIES.keys()
    if series in known:
        return series
    for suffix in _SUFFIXES:
        if series.endswith(suffix) and series[: -len(suffix)] in known:
            return series[: -len(suffix)]
    return series


def is_known(series: str) -> bool:
    return family_of(series) in K2_SERIES or family_of(series) in KUBE_PROMETHEUS_SERIES
