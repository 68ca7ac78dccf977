"""Per-pipeline driver identity: a ServiceAccount, a Role (rules from operator/manifests/driver-role.yaml,
the single source the chart shares) and the RoleBinding between them, all owned by the pipeline."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from k2_operator import naming as n
from k2_operator.builders import PipelineRef

MANIFESTS_DIR = Path(__file__).resolve().parents[1] / "manifests"
DRIVER_ROLE_FILE = MANIFESTS_DIR / "driver-role.yaml"


@cache
def driver_role_rules() -> tuple[dict[str, Any], ...]:
    return tuple(yaml.safe_load(DRIVER_ROLE_FILE.read_text())["rules"])


def _metadata(ref: PipelineRef) -> dict[str, Any]:
    return {
        "name": n.driver_service_account_name(ref.name),
        "namespace": ref.namespace,
        "labels": n.pipeline_labels(ref.name, n.COMPONENT_RBAC),
        "ownerReferences": [ref.owner_reference()],
    }


def build_service_account(ref: PipelineRef) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _metadata(ref)}


def build_role(ref: PipelineRef) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _metadata(ref),
        "rules": [dict(rule) for rule in driver_role_rules()],
    }


def build_role_binding(ref: PipelineRef) -> dict[str, Any]:
    name = n.driver_service_account_name(ref.name)
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _metadata(ref),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ref.namespace}],
    }
