"""The chart on a real kube-apiserver: `helm install`, `helm upgrade` (cluster-wide -> watchNamespaces),
`helm uninstall`. Checks the operator Deployment, the RBAC as the API server evaluates it (`kubectl auth
can-i` as the operator's ServiceAccount), the CRD Established and still there after uninstall, and the
real operator process serving only its watched namespace with the Roles the chart granted.

No kubelet runs in this tier: the Deployment's pod is never started; the operator runs as a local
process with the chart's ServiceAccount token instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from k2_operator import naming as n
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.fixtures.chart_fixtures import CHART_DIR, Helm
from tests.fixtures.kube_fixtures import KubeCluster
from tests.fixtures.operator_fixtures import (
    OperatorKit,
    OperatorProcess,
    service_account_kubeconfig,
    wait_for,
)

pytestmark = pytest.mark.chart

RELEASE = "k2chart"
NAMESPACE = "k2-chart"
OPERATOR = f"{RELEASE}-operator"
CRD_NAME = "streamingpipelines.k2.dev"


def adopt_existing_crd(cluster: KubeCluster) -> None:
    """Other tiers of the same session apply the CRD with kubectl; mark it as this release's so Helm
    takes it over instead of refusing (what a user moving from kubectl to the chart would do)."""
    if cluster.kubectl("get", "crd", CRD_NAME, check=False).returncode != 0:
        return
    cluster.kubectl(
        "annotate",
        "--overwrite",
        "crd",
        CRD_NAME,
        f"meta.helm.sh/release-name={RELEASE}",
        f"meta.helm.sh/release-namespace={NAMESPACE}",
    )
    cluster.kubectl("label", "--overwrite", "crd", CRD_NAME, "app.kubernetes.io/managed-by=Helm")


def can_i(cluster: KubeCluster, verb: str, resource: str, namespace: str | None = None) -> bool:
    scope = ["--namespace", namespace] if namespace else ["--all-namespaces"]
    result = cluster.kubectl(
        "auth",
        "can-i",
        verb,
        resource,
        *scope,
        f"--as=system:serviceaccount:{NAMESPACE}:{OPERATOR}",
        check=False,
    )
    return result.stdout.strip() == "yes"


def can_i_as(cluster: KubeCluster, subject: str, namespace: str) -> bool:
    """Whether ``subject`` may create pods (the drivers' executors) in ``namespace``."""
    as_subject = f"--as={subject}"
    result = cluster.kubectl("auth", "can-i", "create", "pods", "-n", namespace, as_subject, check=False)
    return result.stdout.strip() == "yes"


def exists(read: Any, *args: str) -> bool:
    try:
        read(*args)
    except ApiException as error:
        if error.status == 404:
            return False
        raise
    return True


@pytest.fixture(scope="module")
def installed(kube_cluster: KubeCluster, helm: Helm) -> Iterator[KubeCluster]:
    adopt_existing_crd(kube_cluster)
    result = helm.run(
        "install",
        RELEASE,
        str(CHART_DIR),
        "--namespace",
        NAMESPACE,
        "--create-namespace",
        "--set",
        "image.tag=test",
        kubeconfig=kube_cluster.kubeconfig,
    )
    assert "kubectl apply -f examples/streamingpipeline.yaml" in result.stdout  # NOTES.txt
    try:
        yield kube_cluster
    finally:
        helm.run(
            "uninstall", RELEASE, "--namespace", NAMESPACE, kubeconfig=kube_cluster.kubeconfig, check=False
        )


def test_install_creates_the_operator_its_rbac_and_an_established_crd(installed: KubeCluster) -> None:
    apps: Any = client.AppsV1Api(installed.api_client)
    deployment = apps.read_namespaced_deployment(OPERATOR, NAMESPACE)
    assert deployment.spec.replicas == 1
    assert deployment.spec.strategy.type == "Recreate"
    pod = deployment.spec.template.spec
    assert pod.service_account_name == OPERATOR
    assert pod.containers[0].image == "docker.io/k2/operator:test"
    assert pod.security_context.run_as_user == 185
    core: Any = client.CoreV1Api(installed.api_client)
    assert core.read_namespaced_service(f"{OPERATOR}-metrics", NAMESPACE).spec.ports[0].port == 8080
    installed.kubectl("wait", "--for=condition=Established", "--timeout=30s", f"crd/{CRD_NAME}")
    # Cluster-wide RBAC, as the API server evaluates it for the operator's ServiceAccount.
    assert can_i(installed, "watch", "streamingpipelines.k2.dev")
    assert can_i(installed, "create", "pods", "any-namespace")
    assert can_i(installed, "create", "deployments.apps", "any-namespace")
    assert can_i(installed, "list", "customresourcedefinitions.apiextensions.k8s.io")
    assert not can_i(installed, "get", "secrets", "any-namespace")
    assert not can_i(installed, "delete", "namespaces")
    # The drivers' verbs stay with the drivers' ClusterRole, which the operator may only bind.
    assert not can_i(installed, "deletecollection", "pods", "any-namespace")
    assert not can_i(installed, "create", "persistentvolumeclaims", "any-namespace")
    driver_role = f"{OPERATOR}-spark-driver"
    assert can_i(installed, "bind", f"clusterroles.rbac.authorization.k8s.io/{driver_role}", "any-namespace")
    assert not can_i(installed, "bind", "clusterroles.rbac.authorization.k8s.io/admin", "any-namespace")


def test_upgrade_to_watch_namespaces_serves_only_those_with_roles_only(
    installed: KubeCluster, helm: Helm, op: OperatorKit, tmp_path: Path
) -> None:
    watched, other = op.namespace(), op.namespace()
    helm.run(
        "upgrade",
        RELEASE,
        str(CHART_DIR),
        "--namespace",
        NAMESPACE,
        "--reuse-values",
        "--set",
        f"watchNamespaces={{{watched}}}",
        kubeconfig=installed.kubeconfig,
    )
    rbac: Any = client.RbacAuthorizationV1Api(installed.api_client)
    assert not exists(rbac.read_cluster_role, OPERATOR)
    assert not exists(rbac.read_cluster_role_binding, OPERATOR)
    assert exists(rbac.read_namespaced_role, OPERATOR, watched)
    assert can_i(installed, "create", "pods", watched)
    assert not can_i(installed, "create", "pods", other)
    assert not can_i(installed, "list", "customresourcedefinitions.apiextensions.k8s.io")
    apps: Any = client.AppsV1Api(installed.api_client)
    env = {
        e.name: e.value
        for e in apps.read_namespaced_deployment(OPERATOR, NAMESPACE).spec.template.spec.containers[0].env
    }
    assert env["K2_OPERATOR_WATCH_NAMESPACES"] == watched

    # The real operator, as the chart's ServiceAccount, in the mode the Deployment now runs in.
    kubeconfig = service_account_kubeconfig(installed, tmp_path / "sa.kubeconfig", OPERATOR, NAMESPACE)
    process = OperatorProcess(
        kubeconfig,
        tmp_path / "operator.log",
        extra_env={
            "K2_OPERATOR_WATCH_NAMESPACES": watched,
            "K2_OPERATOR_DRIVER_CLUSTER_ROLE": env["K2_OPERATOR_DRIVER_CLUSTER_ROLE"],
        },
    )
    process.start()
    try:
        op.apply_pipeline(watched, "served")
        op.apply_pipeline(other, "ignored")
        wait_for("driver pods in the watched namespace", lambda: len(op.driver_pods(watched, "served")) == 5)
        # Read from this process's own log: the session's cluster-wide operator (operator tier) may
        # run too and serve both namespaces.
        wait_for("this operator reconciling the watched pipeline", lambda: '"served"' in process.log_text())
        # The drivers' identity: bound to the chart's drivers' ClusterRole, which the operator could
        # bind (Roles only, no cluster-wide grant) without holding its verbs.
        # (The session's cluster-wide operator, when it runs, binds its own release's ClusterRole.)
        binding = rbac.read_namespaced_role_binding("served-spark-driver", watched)
        assert binding.role_ref.kind == "ClusterRole"
        assert binding.role_ref.name in (f"{OPERATOR}-spark-driver", "k2-operator-spark-driver")
        assert can_i_as(installed, "system:serviceaccount:" + watched + ":served-spark-driver", watched)
        op.delete_pipeline(watched, "served")
        wait_for("the served pipeline gone", lambda: op.pipeline(watched, "served") is None)
        log = process.log_text()
        assert other not in log and "ignored" not in log, process.log_tail()
        # An RBAC refusal shows as kopf's APIForbiddenError / "status=403"; a bare "403" would also match
        # timestamps and uids.
        assert not re.search(r"Forbidden|status=403|\b403 Forbidden", log), process.log_tail()
    finally:
        process.stop()


def test_uninstall_removes_the_operator_and_keeps_the_crd(
    installed: KubeCluster, helm: Helm, op: OperatorKit
) -> None:
    namespace = op.namespace()
    op.apply_pipeline(namespace, "survivor")
    helm.run("uninstall", RELEASE, "--namespace", NAMESPACE, kubeconfig=installed.kubeconfig)
    apps: Any = client.AppsV1Api(installed.api_client)
    wait_for(
        "the operator Deployment gone",
        lambda: not exists(apps.read_namespaced_deployment, OPERATOR, NAMESPACE),
    )
    core: Any = client.CoreV1Api(installed.api_client)
    assert not exists(core.read_namespaced_service_account, OPERATOR, NAMESPACE)
    installed.kubectl("wait", "--for=condition=Established", "--timeout=10s", f"crd/{CRD_NAME}")
    assert op.pipeline(namespace, "survivor") is not None
    assert op.custom.list_cluster_custom_object(n.GROUP, n.VERSION, n.PLURAL)["items"]
