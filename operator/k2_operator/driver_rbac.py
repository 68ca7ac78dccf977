"""Per-pipeline driver identity: a ServiceAccount and a RoleBinding that binds it, in the pipeline's
namespace, to the drivers' ClusterRole; plus a Role with the one rule that names this pipeline's pods
(a driver patches its own pod's progress annotation) and its RoleBinding. All owned by the pipeline.

The ClusterRole is created once by the Helm chart (``<release>-operator-spark-driver``, rules from
k2_operator/manifests/driver-role.yaml, the single source the chart links to) and named to the operator
in K2_OPERATOR_DRIVER_CLUSTER_ROLE. The operator holds only the ``bind`` verb on that one ClusterRole,
not the drivers' own verbs (executor pods, PVCs, deletecollection): Kubernetes lets a subject create
a RoleBinding to a role it may ``bind`` without holding the role's permissions.

The rules stay readable as package data (driver_role_rules) for the tests that compare the chart's
ClusterRole with them."""

from __future__ import annotations

import os
from functools import cache
from importlib import resources
from typing import Any

import yaml

from k2_operator import naming as n
from k2_operator.builders import PipelineRef
from k2_shared.contracts import JOB_NAMES

DRIVER_ROLE_RESOURCE = resources.files("k2_operator") / "manifests" / "driver-role.yaml"
DRIVER_CLUSTER_ROLE_ENV = "K2_OPERATOR_DRIVER_CLUSTER_ROLE"
#: The chart's name for it with the default release name `k2`.
DEFAULT_DRIVER_CLUSTER_ROLE = "k2-operator-spark-driver"


def driver_cluster_role() -> str:
    return os.environ.get(DRIVER_CLUSTER_ROLE_ENV, "").strip() or DEFAULT_DRIVER_CLUSTER_ROLE


@cache
def driver_role_rules() -> tuple[dict[str, Any], ...]:
    return tuple(yaml.safe_load(DRIVER_ROLE_RESOURCE.read_text())["rules"])


def _metadata(ref: PipelineRef) -> dict[str, Any]:
    return {
        "name": n.driver_service_account_name(ref.name),
        "namespace": ref.namespace,
        "labels": n.pipeline_labels(ref.name, n.COMPONENT_RBAC),
        "ownerReferences": [ref.owner_reference()],
    }


def build_service_account(ref: PipelineRef) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _metadata(ref)}


def progress_rule(ref: PipelineRef) -> dict[str, Any]:
    """A driver writes its query's progress as an annotation on its own pod: `patch` on this pipeline's
    driver pods by name, nothing else (a Role cannot say "its own pod"; the five names are the closest)."""
    return {
        "apiGroups": [""],
        "resources": ["pods"],
        "resourceNames": [n.driver_pod_name(ref.name, job) for job in JOB_NAMES],
        "verbs": ["patch"],
    }


def progress_role_name(ref: PipelineRef) -> str:
    return f"{n.driver_service_account_name(ref.name)}-progress"


def build_progress_role(ref: PipelineRef) -> dict[str, Any]:
    """A Role of its own for the progress annotation: its rule names this pipeline's pods, so it cannot
    live in the ClusterRole shared by every pipeline."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {**_metadata(ref), "name": progress_role_name(ref)},
        "rules": [progress_rule(ref)],
    }


def build_progress_role_binding(ref: PipelineRef) -> dict[str, Any]:
    """Binds the drivers' ServiceAccount to the pipeline's progress Role."""
    name = n.driver_service_account_name(ref.name)
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {**_metadata(ref), "name": progress_role_name(ref)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": progress_role_name(ref)},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ref.namespace}],
    }


def build_role_binding(ref: PipelineRef, cluster_role: str | None = None) -> dict[str, Any]:
    """Binds the drivers' ServiceAccount to the drivers' ClusterRole, in the pipeline's namespace.
    (Earlier versions bound a per-pipeline Role of the same name holding the drivers' rules; the
    operator replaces such a binding, and that Role, bound to nothing, goes with the pipeline.)"""
    name = n.driver_service_account_name(ref.name)
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _metadata(ref),
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": cluster_role or driver_cluster_role(),
        },
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ref.namespace}],
    }


def build_driver_identity(ref: PipelineRef) -> list[dict[str, Any]]:
    """What a driver pod needs before it is created: its ServiceAccount, the RoleBinding to the drivers'
    ClusterRole, and the Role and RoleBinding for its progress annotation."""
    return [
        build_service_account(ref),
        build_role_binding(ref),
        build_progress_role(ref),
        build_progress_role_binding(ref),
    ]
