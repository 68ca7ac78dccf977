"""`helm install` the chart on a real node: the operator image starts as uid 185 under the chart's
security context, passes its probes, serves its metrics through its Service, and `helm uninstall`
removes it while the CRD (and every StreamingPipeline) stays."""

from __future__ import annotations

import json
import time

import pytest

from tests.e2e.conftest import (
    CHART,
    OPERATOR_NAMESPACE,
    RELEASE,
    operator_image_values,
    timed,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_helm_install_runs_the_operator_and_uninstall_keeps_the_crd(e2e_cluster, k2_images, helm):
    t = time.monotonic()
    e2e_cluster.run(
        [helm, "install", RELEASE, str(CHART), "-n", OPERATOR_NAMESPACE, "--create-namespace",
         *operator_image_values(k2_images.refs["operator"]), "--wait", "--timeout=5m"],
        timeout=330,
    )  # fmt: skip
    timed(e2e_cluster.timings, "helm install (operator Ready)", t)

    pods = json.loads(e2e_cluster.kubectl("get", "pods", "-n", OPERATOR_NAMESPACE, "-o", "json"))["items"]
    assert len(pods) == 1
    pod = pods[0]
    assert pod["status"]["phase"] == "Running"
    assert all(c["ready"] for c in pod["status"]["containerStatuses"])
    uid = e2e_cluster.kubectl("exec", "-n", OPERATOR_NAMESPACE, pod["metadata"]["name"], "--", "id", "-u")
    assert uid.strip() == "185"

    services = json.loads(e2e_cluster.kubectl("get", "svc", "-n", OPERATOR_NAMESPACE, "-o", "json"))["items"]
    metrics = next(s for s in services if s["metadata"]["name"].endswith("-metrics"))
    port = metrics["spec"]["ports"][0]["port"]
    path = (
        f"/api/v1/namespaces/{OPERATOR_NAMESPACE}/services/{metrics['metadata']['name']}:{port}/proxy/metrics"
    )
    assert "k2_operator_" in e2e_cluster.kubectl("get", "--raw", path)

    e2e_cluster.run([helm, "uninstall", RELEASE, "-n", OPERATOR_NAMESPACE, "--wait", "--timeout=3m"])

    def operator_gone() -> bool:
        left = json.loads(e2e_cluster.kubectl("get", "deploy,pods", "-n", OPERATOR_NAMESPACE, "-o", "json"))
        return not left["items"]

    wait_until("the operator's Deployment and pod to be gone", operator_gone, timeout=120)
    e2e_cluster.kubectl("get", "crd", "streamingpipelines.k2.dev")
