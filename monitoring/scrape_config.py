"""The Prometheus scrape configuration a PodMonitor turns into: what the prometheus-operator generates
(keep by selector and port name; namespace, container, pod, job and endpoint target labels; then the
endpoint's own relabelings). Two forms: ``scrape_configs`` for targets given by hand, with
``static_configs`` carrying the ``__meta_kubernetes_*`` labels Kubernetes service discovery would (the
monitoring tests scrape local jobs through it, so they see the labels a cluster's Prometheus sees), and
``file_sd_scrape_configs`` reading the targets pod discovery would find from a file that
``discovered_targets`` writes from the cluster's pods (the e2e tier scrapes the drivers on its node: Debian's
Prometheus is built without ``kubernetes_sd_configs``).
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
    return _pod_meta(pod.namespace, pod.name, pod.container, pod.labels, port_name)


def _pod_meta(
    namespace: str, name: str, container: str, labels: dict[str, str], port_name: str
) -> dict[str, str]:
    """The ``__meta_kubernetes_*`` labels pod discovery (role: pod) sets on one container port."""
    meta = {
        "__meta_kubernetes_namespace": namespace,
        "__meta_kubernetes_pod_name": name,
        "__meta_kubernetes_pod_container_name": container,
        "__meta_kubernetes_pod_container_port_name": port_name,
    }
    for label, value in labels.items():
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


def selected_namespaces(spec: dict[str, Any], monitor_namespace: str) -> list[str] | None:
    """The namespaces a PodMonitor's namespaceSelector picks: None for any, else matchNames, else its own."""
    selector = spec.get("namespaceSelector") or {}
    if selector.get("any"):
        return None
    return list(selector.get("matchNames") or [monitor_namespace])


def discovered_targets(
    pods: list[dict[str, Any]], spec: dict[str, Any], monitor_namespace: str
) -> list[dict[str, Any]]:
    """What Kubernetes pod discovery finds for a PodMonitor, as file_sd target groups: one target per
    named container port of every pod with an IP in the selected namespaces, carrying the labels
    discovery sets (the selector itself is applied by the relabelling, as on a cluster)."""
    namespaces = selected_namespaces(spec, monitor_namespace)
    groups = []
    for pod in pods:
        meta, status = pod["metadata"], pod.get("status") or {}
        if (namespaces is not None and meta["namespace"] not in namespaces) or not status.get("podIP"):
            continue
        for container in pod["spec"]["containers"]:
            for port in container.get("ports") or []:
                if "name" not in port:
                    continue
                target_meta = _pod_meta(
                    meta["namespace"], meta["name"], container["name"], meta.get("labels") or {}, port["name"]
                )
                groups.append(
                    {"targets": [f"{status['podIP']}:{port['containerPort']}"], "labels": target_meta}
                )
    return groups


def file_sd_scrape_configs(
    monitor_name: str, monitor_namespace: str, spec: dict[str, Any], targets_file: str
) -> list[dict[str, Any]]:
    """The PodMonitor's jobs reading their targets from ``targets_file`` (written by
    ``discovered_targets``, re-read by Prometheus when it changes)."""
    return [
        {
            **_job(monitor_name, monitor_namespace, index, endpoint),
            "file_sd_configs": [{"files": [targets_file], "refresh_interval": "5s"}],
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
