"""The operator on the real API server (issue 16, items 5-7): deleting a pipeline never waits for the
operator (no finalizer; an earlier version's finalizer is released), a pipeline deleted and re-created
under the same name gets its drivers' identity back, the child watches are filtered by label on the
API server, and spec.podTemplate / driverPodDisruptionBudget reach the drivers, the executors'
template and the PodDisruptionBudgets."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from k2_operator import naming as n
from k2_operator.child_watch import ChildWatches
from k2_operator.handlers import OLD_FINALIZER
from k2_operator.kube_io import KubeApi
from kubernetes import client

from tests.fixtures.operator_fixtures import OperatorKit, OperatorProcess, wait_for, wait_until

pytestmark = pytest.mark.operator


def five_drivers(op: OperatorKit, ns: str, name: str) -> dict[str, Any]:
    return wait_until("five driver pods", lambda: op.driver_pods(ns, name), lambda pods: len(pods) == 5)


def own_operator(operator_service_account: Path, tmp_path: Path, namespace: str) -> OperatorProcess:
    """An operator serving only ``namespace`` (the session's operator may serve it too)."""
    return OperatorProcess(
        operator_service_account,
        tmp_path / "operator.log",
        extra_env={"K2_OPERATOR_WATCH_NAMESPACES": namespace},
    )


def test_a_pipeline_has_no_finalizer_and_is_deleted_at_once_while_the_operator_is_down(
    operator_service_account: Path, op: OperatorKit, tmp_path: Path
) -> None:
    ns = op.namespace()
    process = own_operator(operator_service_account, tmp_path, ns)
    process.start()
    try:
        op.apply_pipeline(ns, "quick")
        five_drivers(op, ns, "quick")
        wait_for("status written", lambda: op.status(ns, "quick").get("phase"))
        assert not (op.pipeline(ns, "quick") or {})["metadata"].get("finalizers")
    finally:
        process.stop()
    started = time.monotonic()
    op.delete_pipeline(ns, "quick")
    wait_for("the pipeline gone", lambda: op.pipeline(ns, "quick") is None, timeout=10, interval=0.1)
    print(f"\n[delete] gone {time.monotonic() - started:.2f} s after the request, operator stopped")


def test_the_finalizer_of_an_earlier_version_is_released_even_from_a_pipeline_being_deleted(
    operator_service_account: Path, op: OperatorKit, tmp_path: Path
) -> None:
    ns = op.namespace()
    body = {
        "apiVersion": n.API_VERSION,
        "kind": n.KIND,
        "metadata": {"name": "legacy", "namespace": ns, "finalizers": [OLD_FINALIZER]},
        "spec": op.example_spec(),
    }
    op.custom.create_namespaced_custom_object(n.GROUP, n.VERSION, ns, n.PLURAL, body)
    body["metadata"]["name"] = "stuck"
    op.custom.create_namespaced_custom_object(n.GROUP, n.VERSION, ns, n.PLURAL, body)
    op.delete_pipeline(ns, "stuck")  # held by the old finalizer until an operator releases it
    process = own_operator(operator_service_account, tmp_path, ns)
    process.start()
    try:
        wait_for("the stuck deletion completed", lambda: op.pipeline(ns, "stuck") is None)
        wait_for(
            "the old finalizer released",
            lambda: not (op.pipeline(ns, "legacy") or {})["metadata"].get("finalizers"),
        )
        five_drivers(op, ns, "legacy")
    finally:
        process.stop()


def test_a_pipeline_deleted_and_recreated_with_its_name_gets_its_driver_identity_back(
    k2_operator: OperatorProcess, op: OperatorKit
) -> None:
    ns, name = op.namespace(), "again"
    first = op.apply_pipeline(ns, name)
    five_drivers(op, ns, name)
    account = n.driver_service_account_name(name)
    wait_for(
        "the first driver identity", lambda: _owner_uid(op.core.read_namespaced_service_account, account, ns)
    )
    op.delete_pipeline(ns, name)
    wait_for("deleted", lambda: op.pipeline(ns, name) is None, timeout=10, interval=0.05)
    second = op.apply_pipeline(ns, name)  # at once: the garbage collector has the old children in hand
    new_uid = second["metadata"]["uid"]
    assert new_uid != first["metadata"]["uid"]
    rbac: Any = client.RbacAuthorizationV1Api(op.cluster.api_client)
    reads = {
        "ServiceAccount": (op.core.read_namespaced_service_account, account),
        "RoleBinding": (rbac.read_namespaced_role_binding, account),
        "quality ServiceAccount": (
            op.core.read_namespaced_service_account,
            n.quality_service_account_name(name),
        ),
        "quality Role": (rbac.read_namespaced_role, n.quality_service_account_name(name)),
        "report ConfigMap": (op.core.read_namespaced_config_map, n.quality_report_name(name)),
        "gold ConfigMap": (op.core.read_namespaced_config_map, n.config_map_name(name, "gold")),
        "gold Service": (op.core.read_namespaced_service, n.driver_service_name(name, "gold")),
        "gold driver": (op.core.read_namespaced_pod, n.driver_pod_name(name, "gold")),
    }

    def owned_by_the_new_pipeline() -> bool:
        return all(_owner_uid(read, obj, ns) == new_uid for read, obj in reads.values())

    wait_for(
        "every child owned by the re-created pipeline", owned_by_the_new_pipeline, timeout=90, interval=1
    )
    time.sleep(5)  # the garbage collector had its chance: nothing of it was deleted since
    missing = [what for what, (read, obj) in reads.items() if _owner_uid(read, obj, ns) != new_uid]
    assert missing == []
    binding = rbac.read_namespaced_role_binding(account, ns)
    assert binding.role_ref.kind == "ClusterRole"


def _owner_uid(read: Any, name: str, namespace: str) -> str | None:
    try:
        obj = read(name, namespace)
    except client.exceptions.ApiException as error:
        if error.status == 404:
            return None
        raise
    if obj.metadata.deletion_timestamp:
        return None
    refs = obj.metadata.owner_references or []
    return refs[0].uid if len(refs) == 1 else None


def test_the_child_watches_receive_only_the_operators_labelled_objects(op: OperatorKit) -> None:
    ns = op.namespace(restricted=False)
    seen: list[Mapping[str, str]] = []
    stop = threading.Event()

    def on_child(_type: str, obj: Mapping[str, Any]) -> None:
        seen.append(dict(obj["metadata"].get("labels") or {}))

    ChildWatches(KubeApi(op.cluster.api_client), [ns], on_child, stop).start()
    try:
        time.sleep(1)  # the watches are open
        pod = {"containers": [{"name": "c", "image": "k2/none:0"}]}
        driver = n.job_labels("p", "gold", n.COMPONENT_DRIVER)
        executor = n.job_labels("p", "gold", n.COMPONENT_EXECUTOR)
        foreign = {**driver, n.LABEL_MANAGED_BY: "someone-else"}
        for name, labels in (
            ("other", {"app": "x"}),
            ("foreign", foreign),
            ("executor", executor),
            ("driver", driver),
        ):
            op.core.create_namespaced_pod(ns, {"metadata": {"name": name, "labels": labels}, "spec": pod})
        wait_for("the driver pod's event", lambda: driver in seen)
        time.sleep(1)
        assert executor in seen
        assert all(labels in (driver, executor) for labels in seen), seen
    finally:
        stop.set()


def test_a_pod_template_and_disruption_budgets_reach_drivers_and_executors(
    k2_operator: OperatorProcess, op: OperatorKit
) -> None:
    scheduling: Any = client.SchedulingV1Api(op.cluster.api_client)
    if not [p for p in scheduling.list_priority_class().items if p.metadata.name == "k2-streaming-test"]:
        scheduling.create_priority_class({"metadata": {"name": "k2-streaming-test"}, "value": 1000})
    template = {
        "labels": {"team": "data"},
        "driver": {"annotations": {"example.com/role": "driver"}},
        "executor": {"labels": {"tier": "executor"}},
        "nodeSelector": {"pool": "spark"},
        "tolerations": [{"key": "spark", "operator": "Exists", "effect": "NoSchedule"}],
        "priorityClassName": "k2-streaming-test",
        "imagePullSecrets": [{"name": "regcred"}],
        "volumes": [{"name": "scratch", "emptyDir": {}}],
        "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
    }
    ns, name = op.namespace(), "placed"
    op.apply_pipeline(ns, name, {"podTemplate": template, "driverPodDisruptionBudget": True})
    pods = five_drivers(op, ns, name)
    for pod in pods.values():
        assert pod.metadata.labels["team"] == "data"
        assert pod.metadata.labels[n.LABEL_COMPONENT] == n.COMPONENT_DRIVER
        assert pod.metadata.annotations["example.com/role"] == "driver"
        assert pod.spec.node_selector == {"pool": "spark"}
        assert pod.spec.priority_class_name == "k2-streaming-test"
        assert [s.name for s in pod.spec.image_pull_secrets] == ["regcred"]
        assert "scratch" in [m.name for m in pod.spec.containers[0].volume_mounts]
    executor = yaml.safe_load(
        op.core.read_namespaced_config_map(n.config_map_name(name, "gold"), ns).data[n.EXECUTOR_TEMPLATE_KEY]
    )
    assert executor["metadata"]["labels"]["tier"] == "executor"
    assert executor["spec"]["tolerations"] == template["tolerations"]
    assert executor["spec"]["priorityClassName"] == "k2-streaming-test"
    policy: Any = client.PolicyV1Api(op.cluster.api_client)

    def budgets() -> dict[str, Any]:
        items = policy.list_namespaced_pod_disruption_budget(
            ns, label_selector=n.children_selector(name)
        ).items
        return {b.metadata.name: b for b in items}

    found = wait_until("five PodDisruptionBudgets", budgets, lambda b: len(b) == 5)
    gold = found[n.driver_pod_name(name, "gold")]
    assert gold.spec.max_unavailable == 0
    assert gold.spec.selector.match_labels == n.job_labels(name, "gold", n.COMPONENT_DRIVER)
    op.patch_spec(ns, name, {"driverPodDisruptionBudget": False})
    wait_until("no PodDisruptionBudgets", budgets, lambda b: not b)
