"""The chart's monitoring objects (charts/k2/templates/monitoring/, generated from monitoring/):
rendered by helm, equal to what monitoring/ generates, each part switchable, the `release` label from
values, valid against the prometheus-operator CRD schemas (controller-gen output), and created on a
real kube-apiserver with those CRDs installed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from monitoring import chart
from monitoring.alerts import Thresholds, rule_groups
from monitoring.dashboards import dashboards
from tests.fixtures.chart_fixtures import CHART_DIR, Helm

pytestmark = pytest.mark.monitoring

MONITORING_KINDS = {"PodMonitor", "ServiceMonitor", "PrometheusRule"}
ON = {"monitoring": {"enabled": True}}


def monitoring_objects(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What templates/monitoring/ rendered (its objects' app.kubernetes.io/name)."""
    return [
        o for o in objects if o["metadata"].get("labels", {}).get("app.kubernetes.io/name") == "k2-monitoring"
    ]


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


@pytest.fixture(scope="module")
def rendered(helm: Helm) -> list[dict[str, Any]]:
    return helm.template(ON)


def crd_schemas(crds: Path) -> dict[str, dict[str, Any]]:
    """kind -> the openAPIV3Schema of its served version."""
    schemas = {}
    for path in crds.glob("*.yaml"):
        crd = yaml.safe_load(path.read_text())
        (version,) = [v for v in crd["spec"]["versions"] if v["served"]]
        schemas[crd["spec"]["names"]["kind"]] = version["schema"]["openAPIV3Schema"]
    return schemas


def test_values_block_is_the_generated_one():
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    assert values["monitoring"] == chart.values_block()


def test_off_by_default_and_everything_when_on(helm: Helm, rendered: list[dict[str, Any]]):
    assert monitoring_objects(helm.template()) == []
    kinds = sorted(o["kind"] for o in monitoring_objects(rendered))
    assert kinds == ["ConfigMap"] * 3 + ["PodMonitor", "PrometheusRule", "ServiceMonitor"]


def test_the_rendered_objects_are_what_monitoring_generates(rendered: list[dict[str, Any]]):
    (rule,) = by_kind(rendered, "PrometheusRule")
    assert rule["spec"] == rule_groups(Thresholds())
    (pod_monitor,) = by_kind(rendered, "PodMonitor")
    assert pod_monitor["spec"] == chart.pod_monitor_spec("30s")
    maps = {
        key.removesuffix(".json"): json.loads(text)
        for cm in by_kind(monitoring_objects(rendered), "ConfigMap")
        for key, text in cm["data"].items()
    }
    assert maps == dashboards()
    for obj in monitoring_objects(rendered):
        assert obj["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    for cm in by_kind(monitoring_objects(rendered), "ConfigMap"):
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"


def test_the_service_monitor_selects_the_operator_metrics_service(rendered: list[dict[str, Any]]):
    (monitor,) = by_kind(rendered, "ServiceMonitor")
    services = [
        s for s in by_kind(rendered, "Service") if "metrics" in {p["name"] for p in s["spec"]["ports"]}
    ]
    (service,) = services
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [service["metadata"]["namespace"]]
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"


@pytest.mark.parametrize("part", ["podMonitor", "serviceMonitor", "prometheusRule", "dashboards"])
def test_each_part_switches_off_alone(helm: Helm, rendered: list[dict[str, Any]], part: str):
    values = {"monitoring": {"enabled": True, part: {"enabled": False}}}
    remaining = monitoring_objects(helm.template(values))
    assert 0 < len(remaining) < len(monitoring_objects(rendered))
    gone = {"dashboards": "ConfigMap"}.get(part, part[0].upper() + part[1:])
    assert by_kind(remaining, gone) == []


def test_release_label_and_thresholds_come_from_values(helm: Helm):
    thresholds = {"dlqRatio": 0.1, "dlqWindow": "30m", "e2eP99Seconds": 900, "runbookBaseUrl": "https://x/rb"}
    values = {
        "monitoring": {"enabled": True, "release": "prom", "prometheusRule": {"thresholds": thresholds}}
    }
    objects = monitoring_objects(helm.template(values))
    assert {o["metadata"]["labels"]["release"] for o in objects} == {"prom"}
    (rule,) = by_kind(objects, "PrometheusRule")
    expected = Thresholds(
        dlq_ratio=0.1, dlq_window="30m", e2e_p99_seconds=900, runbook_base_url="https://x/rb"
    )
    assert rule["spec"] == rule_groups(expected)


def test_a_bad_threshold_is_rejected_by_the_values_schema(helm: Helm):
    values = {"monitoring": {"enabled": True, "prometheusRule": {"thresholds": {"dlqWindow": "ten minutes"}}}}
    result = helm.run(
        "template", "k2", str(CHART_DIR), "--values", str(helm.values_file(values)), check=False
    )
    assert result.returncode != 0
    assert "dlqWindow" in result.stderr


def test_monitoring_objects_are_valid_against_the_prometheus_operator_crds(
    rendered: list[dict[str, Any]], prometheus_operator_crds: Path
):
    schemas = crd_schemas(prometheus_operator_crds)
    for obj in (
        by_kind(rendered, "PodMonitor")
        + by_kind(rendered, "ServiceMonitor")
        + by_kind(rendered, "PrometheusRule")
    ):
        jsonschema.Draft4Validator(schemas[obj["kind"]]).validate(obj)
    # The schema can fail: a misspelled endpoint field breaks it.
    (pod_monitor,) = by_kind(rendered, "PodMonitor")
    bad = json.loads(json.dumps(pod_monitor))
    bad["spec"]["podMetricsEndpoints"][0]["interval"] = "every minute"
    assert not jsonschema.Draft4Validator(schemas["PodMonitor"]).is_valid(bad)
