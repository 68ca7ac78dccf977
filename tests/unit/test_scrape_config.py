"""The PodMonitor -> Prometheus translation: pod discovery and static targets share the relabelling."""

from __future__ import annotations

import pytest

from monitoring.chart import pod_monitor_spec
from monitoring.scrape_config import LocalPod, kubernetes_sd_scrape_configs, scrape_configs

pytestmark = pytest.mark.unit

SD = {"api_server": "https://10.0.0.1:6443", "authorization": {"credentials_file": "/token"}}


def test_pod_discovery_keeps_the_static_forms_relabelling_per_endpoint():
    spec = pod_monitor_spec("30s")
    pod = LocalPod("p", "k2", "driver", {"app.kubernetes.io/managed-by": "k2-operator"}, {"metrics": 1})
    static = scrape_configs("k2-spark-drivers", "k2-system", spec, [pod])
    discovered = kubernetes_sd_scrape_configs("k2-spark-drivers", "k2-system", spec, SD)
    assert len(discovered) == len(static) == len(spec["podMetricsEndpoints"])
    for sd_job, static_job in zip(discovered, static, strict=True):
        assert sd_job["relabel_configs"] == static_job["relabel_configs"]
        assert sd_job["job_name"] == static_job["job_name"]
        assert sd_job["metrics_path"] == static_job["metrics_path"]
        # The chart's monitor selects pods in any namespace: no namespace restriction.
        assert sd_job["kubernetes_sd_configs"] == [{"role": "pod", **SD}]


@pytest.mark.parametrize(
    ("selector", "namespaces"),
    [({}, ["k2-system"]), ({"matchNames": ["a", "b"]}, ["a", "b"]), ({"any": False}, ["k2-system"])],
)
def test_namespace_selector_picks_the_discovered_namespaces(selector, namespaces):
    spec = {**pod_monitor_spec("30s"), "namespaceSelector": selector}
    (job, *_) = kubernetes_sd_scrape_configs("m", "k2-system", spec, SD)
    assert job["kubernetes_sd_configs"][0]["namespaces"] == {"names": namespaces}
