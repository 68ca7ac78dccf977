"""The prometheus-operator CRDs (controller-gen output) installed on a real kube-apiserver built from
source, and the chart's monitoring objects created there: the API server validates them against the
CRDs' schemas, as a cluster running kube-prometheus-stack would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.monitoring.test_chart_monitoring import ON, by_kind, monitoring_objects

pytestmark = pytest.mark.monitoring


def contains(stored: Any, sent: Any) -> bool:
    """What was sent is in what the API server stored (which adds defaults such as action: replace)."""
    if isinstance(sent, dict):
        return isinstance(stored, dict) and all(
            k in stored and contains(stored[k], v) for k, v in sent.items()
        )
    if isinstance(sent, list):
        return isinstance(stored, list) and len(stored) == len(sent) and all(map(contains, stored, sent))
    return bool(stored == sent)


def test_the_crds_installed_on_a_real_api_server_accept_the_chart_objects(
    kube_cluster, helm, prometheus_operator_crds: Path
):
    namespace = "k2-monitoring-crds"  # its own: other tiers install the chart into k2-system
    rendered: list[dict[str, Any]] = helm.template(ON, namespace=namespace)
    for name in ("podmonitors", "servicemonitors", "prometheusrules"):
        path = prometheus_operator_crds / f"monitoring.coreos.com_{name}.yaml"
        kube_cluster.kubectl("apply", "--server-side", "-f", str(path))
        kube_cluster.kubectl(
            "wait", "--for=condition=Established", f"crd/{name}.monitoring.coreos.com", "--timeout=60s"
        )
    kube_cluster.kubectl("create", "namespace", namespace)
    objects = monitoring_objects(rendered)
    manifest = yaml.safe_dump_all(objects)
    kube_cluster.kubectl("apply", "--validate=strict", "-f", "-", input=manifest)
    for obj in objects:
        got = json.loads(
            kube_cluster.kubectl(
                "get", obj["kind"].lower(), obj["metadata"]["name"], "-n", namespace, "-o", "json"
            ).stdout
        )
        part = "spec" if "spec" in obj else "data"
        assert contains(got[part], obj[part]), obj["metadata"]["name"]
    # The API server rejects what the CRD's schema does not allow.
    (rule,) = by_kind(objects, "PrometheusRule")
    bad = json.loads(json.dumps(rule))
    bad["metadata"]["name"] = "k2-bad-rule"
    bad["spec"]["groups"][0]["rules"][0]["for"] = "five minutes"
    result = kube_cluster.kubectl("apply", "-f", "-", input=json.dumps(bad), check=False)
    assert result.returncode != 0
    assert "for" in result.stderr
    kube_cluster.kubectl("delete", "namespace", namespace, "--wait=false")
