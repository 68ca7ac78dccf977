"""Per-pipeline driver identity: a ServiceAccount, a Role (rules from k2_operator/manifests/driver-role.yaml,
the single source the chart shares) and the RoleBinding between them, all owned by the pipeline.

The driver Role's rules are read at run time, so they ship inside this package (package data): an
operator installed from the wheel finds them without the repository."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

from k2_operator import naming as n
from k2_operator.builders import PipelineRef
from k2_shared.contracts import JOB_NAMES

DRIVER_ROLE_RESOURCE = resources.files("k2_operator") / "manifests" / "driver-role.yaml"


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


def build_role(ref: PipelineRef) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _metadata(ref),
        "rules": [dict(rule) for rule in driver_role_rules()],
    }


def progress_role_name(ref: PipelineRef) -> str:
    return f"{n.driver_service_account_name(ref.name)}-progress"


def build_progress_role(ref: PipelineRef) -> dict[str, Any]:
    """A Role of its own for the progress annotation: its rule names this pipeline's pods, so it cannot
    live in a Role (or ClusterRole) shared by every pipeline."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {**_metadata(ref), "name": progress_role_name(ref)},
        "rules": [progress_rule(ref)],
    }


def build_progress_role_binding(ref: PipelineRef) -> dict[str, Any]:
    binding = build_role_binding(ref)
    binding["metadata"]["name"] = progress_role_name(ref)
    binding["roleRef"]["name"] = progress_role_name(ref)
    return binding


def build_role_binding(ref: PipelineRef) -> dict[str, Any]:
    name = n.driver_service_account_name(ref.name)
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _metadata(ref),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ref.namespace}],
    }
