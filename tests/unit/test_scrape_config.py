"""The PodMonitor -> Prometheus translation: discovered targets and static targets share the labels and
the relabelling."""

from __future__ import annotations

import pytest

from monitoring.chart import pod_monitor_spec
from monitoring.scrape_config import (
    LocalPod,
    discovered_targets,
    file_sd_scrape_configs,
    scrape_configs,
    selected_namespaces,
)

pytestmark = pytest.mark.unit

LABELS = {"app.kubernetes.io/managed-by": "k2-operator", "k2.dev/job": "gold"}


def pod(name: str, namespace: str, ip: str | None, ports: list[dict]) -> dict:
    return {
        "metadata": {"name": name, "namespace": namespace, "labels": LABELS},
        "spec": {"containers": [{"name": "spark-kubernetes-driver", "ports": ports}]},
        "status": {"podIP": ip} if ip else {},
    }


def test_file_discovery_keeps_the_static_forms_relabelling_per_endpoint():
    spec = pod_monitor_spec("30s")
    local = LocalPod("p", "k2", "driver", LABELS, {"metrics": 1})
    static = scrape_configs("k2-spark-drivers", "k2-system", spec, [local])
    from_file = file_sd_scrape_configs("k2-spark-drivers", "k2-system", spec, "/work/targets.json")
    assert len(from_file) == len(static) == len(spec["podMetricsEndpoints"])
    for file_job, static_job in zip(from_file, static, strict=True):
        assert file_job["relabel_configs"] == static_job["relabel_configs"]
        assert file_job["job_name"] == static_job["job_name"]
        assert file_job["metrics_path"] == static_job["metrics_path"]
        assert file_job["file_sd_configs"][0]["files"] == ["/work/targets.json"]


def test_discovered_targets_are_every_named_port_of_pods_with_an_ip_carrying_discoverys_labels():
    ports = [
        {"name": "metrics", "containerPort": 8000},
        {"containerPort": 7078},
        {"name": "ui", "containerPort": 4040},
    ]
    pods = [
        pod("gold-driver", "k2", "10.244.0.7", ports),
        pod("pending-driver", "k2", None, ports),  # no IP yet: discovery has no address for it
        pod("elsewhere", "other", "10.244.0.9", ports),
    ]
    spec = {**pod_monitor_spec("30s"), "namespaceSelector": {"matchNames": ["k2"]}}
    groups = discovered_targets(pods, spec, "k2-system")
    assert [g["targets"] for g in groups] == [["10.244.0.7:8000"], ["10.244.0.7:4040"]]
    # The same labels the static form gives an equivalent local process, so one relabelling serves both.
    local = LocalPod("gold-driver", "k2", "spark-kubernetes-driver", LABELS, {"metrics": 8000})
    (static_job, *_) = scrape_configs("m", "k2-system", spec, [local])
    assert groups[0]["labels"] == static_job["static_configs"][0]["labels"]
    assert groups[1]["labels"]["__meta_kubernetes_pod_container_port_name"] == "ui"
    # Any namespace: the other pod is found too.
    anywhere = discovered_targets(pods, {**spec, "namespaceSelector": {"any": True}}, "k2-system")
    assert {g["labels"]["__meta_kubernetes_namespace"] for g in anywhere} == {"k2", "other"}


@pytest.mark.parametrize(
    ("selector", "namespaces"),
    [
        ({}, ["k2-system"]),
        ({"matchNames": ["a", "b"]}, ["a", "b"]),
        ({"any": False}, ["k2-system"]),
        ({"any": True}, None),
    ],
)
def test_namespace_selector_picks_the_discovered_namespaces(selector, namespaces):
    spec = {**pod_monitor_spec("30s"), "namespaceSelector": selector}
    assert selected_namespaces(spec, "k2-system") == namespaces
