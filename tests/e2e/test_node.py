"""The e2e cluster itself: a node that runs pods, gives them addresses on the pod network, and serves
the `kubernetes` Service and cluster DNS to them, as any real cluster does."""

from __future__ import annotations

import ipaddress
import json
import time

import pytest

pytestmark = pytest.mark.e2e

PAUSE_POD = """
apiVersion: v1
kind: Pod
metadata: {{name: sandbox-only, namespace: default}}
spec:
  containers:
    - name: pause
      image: {image}
      imagePullPolicy: Never
      securityContext: {{runAsNonRoot: true, runAsUser: 65535, allowPrivilegeEscalation: false}}
  terminationGracePeriodSeconds: 1
"""


def wait_for_pod_phase(cluster, name: str, phase: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    pod: dict = {}
    while time.monotonic() < deadline:
        pod = json.loads(cluster.kubectl("get", "pod", name, "-o", "json"))
        if pod.get("status", {}).get("phase") == phase:
            return pod
        time.sleep(0.3)
    raise AssertionError(f"pod {name} not {phase} after {timeout} s: {json.dumps(pod.get('status'))}")


def test_node_is_ready_and_runs_a_pod(e2e_cluster):
    nodes = json.loads(e2e_cluster.kubectl("get", "nodes", "-o", "json"))["items"]
    assert len(nodes) == 1
    ready = {c["type"]: c["status"] for c in nodes[0]["status"]["conditions"]}
    assert ready["Ready"] == "True"

    if e2e_cluster.provider != "node":
        pytest.skip("the pause image is the offline node's own")
    from k2_dev.kube_node import POD_CIDR

    t0 = time.monotonic()
    e2e_cluster.kubectl("apply", "-f", "-", input=PAUSE_POD.format(image=e2e_cluster.node.pause_image))
    pod = wait_for_pod_phase(e2e_cluster, "sandbox-only", "Running")
    print(f"\n[e2e] pod Running {time.monotonic() - t0:.1f} s after apply")
    assert ipaddress.ip_address(pod["status"]["podIP"]) in ipaddress.ip_network(POD_CIDR)
    e2e_cluster.kubectl("delete", "pod", "sandbox-only", "--wait=true", "--timeout=60s")


def test_kubernetes_service_points_at_the_api_server(e2e_cluster):
    """Pods (the operator, Spark drivers) reach the API server through this Service and kube-proxy."""
    endpoints = json.loads(
        e2e_cluster.kubectl(
            "get", "endpointslices", "-l", "kubernetes.io/service-name=kubernetes", "-o", "json"
        )
    )
    addresses = [a for s in endpoints["items"] for e in s["endpoints"] for a in e["addresses"]]
    assert len(addresses) == 1
    if e2e_cluster.provider == "node":
        from k2_dev.kube_node import NODE_IP

        assert addresses == [NODE_IP]
