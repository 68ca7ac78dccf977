"""The Prometheus scrape configuration a PodMonitor turns into: what the prometheus-operator generates
(keep by selector and port name; namespace, container, pod, job and endpoint target labels; then the
endpoint's own relabelings). Two forms: ``scrape_configs`` for targets given by hand, with
``static_configs`` carrying the ``__meta_kubernetes_*`` labels Kubernetes service discovery would (the
monitoring tests scrape local jobs through it, so they see the labels a cluster's Prometheus sees), and
``kubernetes_sd_scrape_configs`` with real pod discovery (the e2e tier scrapes the drivers on its node).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


def _label_name(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", label)


@dataclass(frozen=True)
class LocalPod:
    """A local process standing in for a pod: its ports by name, its labels, where it runs."""

    name: str
    namespace: str
    container: str
    labels: dict[str, str]
    ports: dict[str, int]  # port name -> port on 127.0.0.1
    extra: dict[str, str] = field(default_factory=dict)


def _target_meta(pod: LocalPod, port_name: str) -> dict[str, str]:
    meta = {
        "__meta_kubernetes_namespace": pod.namespace,
        "__meta_kubernetes_pod_name": pod.name,
        "__meta_kubernetes_pod_container_name": pod.container,
        "__meta_kubernetes_pod_container_port_name": port_name,
    }
    for label, value in pod.labels.items():
        meta[f"__meta_kubernetes_pod_label_{_label_name(label)}"] = value
        meta[f"__meta_kubernetes_pod_labelpresent_{_label_name(label)}"] = "true"
    return meta


def scrape_configs(
    monitor_name: str, monitor_namespace: str, spec: dict[str, Any], pods: list[LocalPod]
) -> list[dict[str, Any]]:
    """One scrape job per podMetricsEndpoint, as prometheus-operator names and relabels them, for
    local processes standing in for pods (static targets carrying the discovery labels)."""
    jobs = []
    for index, endpoint in enumerate(spec["podMetricsEndpoints"]):
        targets = [
            {"targets": [f"127.0.0.1:{pod.ports[name]}"], "labels": _target_meta(pod, name)}
            for pod in pods
            for name in pod.ports
        ]
        jobs.append(
            {
                **_job(monitor_name, monitor_namespace, index, endpoint),
                "static_configs": targets,
                "relabel_configs": _relabel_configs(monitor_name, monitor_namespace, spec, endpoint),
            }
        )
    return jobs


def kubernetes_sd_scrape_configs(
    monitor_name: str, monitor_namespace: str, spec: dict[str, Any], sd_config: dict[str, Any]
) -> list[dict[str, Any]]:
    """The same jobs with Kubernetes pod discovery, as prometheus-operator writes them for a cluster's
    Prometheus: ``sd_config`` says how to reach the API server (api_server, authorization, tls_config);
    the PodMonitor's namespaceSelector picks the namespaces (any, matchNames, or its own)."""
    selector = spec.get("namespaceSelector") or {}
    discovery: dict[str, Any] = {"role": "pod", **sd_config}
    if not selector.get("any"):
        discovery["namespaces"] = {"names": list(selector.get("matchNames") or [monitor_namespace])}
    return [
        {
            **_job(monitor_name, monitor_namespace, index, endpoint),
            "kubernetes_sd_configs": [discovery],
            "relabel_configs": _relabel_configs(monitor_name, monitor_namespace, spec, endpoint),
        }
        for index, endpoint in enumerate(spec["podMetricsEndpoints"])
    ]


def _job(monitor_name: str, monitor_namespace: str, index: int, endpoint: dict[str, Any]) -> dict[str, Any]:
    return {
        "job_name": f"podMonitor/{monitor_namespace}/{monitor_name}/{index}",
        "honor_labels": bool(endpoint.get("honorLabels", False)),
        "metrics_path": endpoint.get("path", "/metrics"),
    }


def _relabel_configs(
    monitor_name: str, monitor_namespace: str, spec: dict[str, Any], endpoint: dict[str, Any]
) -> list[dict[str, Any]]:
    """Keep by the selector and the endpoint's port name; namespace, container, pod, job and endpoint
    target labels; then the endpoint's own relabelings."""
    match_labels: dict[str, str] = spec["selector"]["matchLabels"]
    selector_keep = {
        "action": "keep",
        "source_labels": [f"__meta_kubernetes_pod_label_{_label_name(k)}" for k in match_labels]
        + [f"__meta_kubernetes_pod_labelpresent_{_label_name(k)}" for k in match_labels],
        "regex": ";".join(f"({v})" for v in match_labels.values())
        + ";"
        + ";".join("true" for _ in match_labels),
    }
    # matchExpressions (operator In and Exists; the chart uses In) become one keep rule each.
    expression_keeps = []
    for expression in spec["selector"].get("matchExpressions", []):
        key, operator = _label_name(expression["key"]), expression["operator"]
        if operator == "In":
            present = f"__meta_kubernetes_pod_labelpresent_{key}"
            expression_keeps.append(
                {
                    "action": "keep",
                    "source_labels": [f"__meta_kubernetes_pod_label_{key}", present],
                    "regex": f"({'|'.join(expression['values'])});true",
                }
            )
        elif operator == "Exists":
            expression_keeps.append(
                {
                    "action": "keep",
                    "source_labels": [f"__meta_kubernetes_pod_labelpresent_{key}"],
                    "regex": "true",
                }
            )
        else:
            raise ValueError(f"selector operator {operator} is not translated here")
    port = endpoint["port"]
    relabel = [
        selector_keep,
        *expression_keeps,
        {"action": "keep", "source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": port},
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        {"target_label": "job", "replacement": f"{monitor_namespace}/{monitor_name}"},
        {"target_label": "endpoint", "replacement": port},
    ]
    for rule in endpoint.get("relabelings", []):
        # RelabelConfig's camelCase fields, in Prometheus' snake_case.
        relabel.append({re.sub(r"([A-Z])", r"_\1", key).lower(): value for key, value in rule.items()})
    return relabel
