"""The data-quality checks with the real operator against the real API server: one `k2 quality`
Deployment per pipeline (owned by it, outside the core budget, with its own ServiceAccount that may
only read and update its report ConfigMap), and the process's report reaching the pipeline's
status.quality and the QUALITY printer column. No kubelet runs here: the test writes the report the
way the process does, with the process's own reporter code, as the process's ServiceAccount."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from k2_operator import naming as n
from kubernetes import client

from spark_jobs.quality.checks import CheckResult, Status
from spark_jobs.quality.report import ConfigMapReporter
from tests.fixtures.operator_fixtures import OperatorKit, OperatorProcess, wait_until

pytestmark = pytest.mark.operator


def quality_of(op: OperatorKit, ns: str, name: str) -> dict:
    return op.status(ns, name).get("quality") or {}


def test_the_checks_run_in_one_owned_deployment_reported_in_the_status(
    k2_operator: OperatorProcess, op: OperatorKit
) -> None:
    ns, name = op.namespace(), "checked"
    cr = op.apply_pipeline(ns, name, {"quality": {"intervalSeconds": 60, "staleAfterSeconds": 120}})
    deployment = wait_until(
        "the quality Deployment",
        lambda: op.apps.list_namespaced_deployment(ns, label_selector=n.quality_selector(name)).items,
        lambda items: len(items) == 1,
    )[0]
    assert deployment.metadata.name == f"{name}-quality"
    assert deployment.metadata.owner_references[0].uid == cr["metadata"]["uid"]
    pod_spec = deployment.spec.template.spec
    container = pod_spec.containers[0]
    assert container.command[:2] == ["k2", "quality"]
    assert container.command[container.command.index("--interval") + 1] == "60"
    assert container.command[container.command.index("--stale-after") + 1] == "120"
    assert container.resources.requests == {"cpu": "1", "memory": "2Gi"}
    assert container.ports[0].name == n.METRICS_PORT_NAME  # what the PodMonitor scrapes
    assert pod_spec.service_account_name == f"{name}-quality"
    assert pod_spec.security_context.run_as_user == 185

    status = wait_until("status.quality", lambda: op.status(ns, name), lambda s: "quality" in s)
    assert status["quality"]["worstStatus"] == "pending"  # no run reported yet
    assert status["plan"]["totalCores"] == 14  # the checks are outside the core budget
    role = client.RbacAuthorizationV1Api(op.core.api_client).read_namespaced_role(f"{name}-quality", ns)
    assert [(r.resources, r.resource_names, r.verbs) for r in role.rules] == [
        (["configmaps"], [f"{name}-quality-report"], ["get", "update"])
    ]

    # The process reports a run, as its ServiceAccount (impersonated): a critical freshness check.
    config = op.core.api_client.configuration
    as_process = client.ApiClient(config)
    as_process.set_default_header("Impersonate-User", f"system:serviceaccount:{ns}:{name}-quality")
    reporter = ConfigMapReporter(f"{name}-quality-report", ns, api=client.CoreV1Api(as_process))
    now = datetime.now(UTC)
    reporter("dlq_rate", [CheckResult("dlq_rate", "binance", 0.0, 0.05, Status.OK, now)])
    reporter("freshness", [CheckResult("freshness", "bronze/kraken", 900.0, 120.0, Status.CRITICAL, now)])
    quality = wait_until(
        "status.quality critical",
        lambda: quality_of(op, ns, name),
        lambda q: q.get("worstStatus") == "critical",
    )
    assert quality["checks"]["freshness"]["notOk"] == ["bronze/kraken"]
    assert quality["checks"]["dlq_rate"]["status"] == "ok"
    assert quality["lastRun"] == now.strftime("%Y-%m-%dT%H:%M:%SZ")
    report = op.core.read_namespaced_config_map(f"{name}-quality-report", ns)
    assert report.metadata.owner_references[0].uid == cr["metadata"]["uid"]  # kept by the update

    # The same account may not touch anything else.
    with pytest.raises(client.ApiException) as denied:
        client.CoreV1Api(as_process).read_namespaced_config_map(f"{name}-gold-config", ns)
    assert denied.value.status == 403
