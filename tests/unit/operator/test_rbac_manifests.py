"""The RBAC manifests: least privilege, and the operator holds everything it grants the drivers."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from k2_operator.builders import PipelineRef
from k2_operator.driver_rbac import OPERATOR_RBAC_FILE, build_role, build_role_binding, driver_role_rules

pytestmark = pytest.mark.unit


def operator_cluster_role() -> dict[str, Any]:
    docs = list(yaml.safe_load_all(OPERATOR_RBAC_FILE.read_text()))
    return next(doc for doc in docs if doc["kind"] == "ClusterRole")


def grants(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_operator_holds_every_permission_the_driver_role_grants() -> None:
    # Kubernetes refuses to create a Role granting more than its creator holds (no `escalate` here).
    missing = grants(list(driver_role_rules())) - grants(operator_cluster_role()["rules"])
    assert missing == set()


def test_operator_cluster_role_has_no_wildcards_and_no_secrets() -> None:
    held = grants(operator_cluster_role()["rules"])
    assert not any("*" in grant for grant in held)
    assert not any(resource == "secrets" for _, resource, _ in held)
    assert not any(verb in ("escalate", "bind", "impersonate") for _, _, verb in held)


def test_driver_role_covers_what_spark_needs_for_executors() -> None:
    held = grants(list(driver_role_rules()))
    for verb in ("create", "get", "list", "watch", "delete"):
        assert ("", "pods", verb) in held
    for resource in ("services", "configmaps", "persistentvolumeclaims"):
        assert ("", resource, "create") in held


def test_per_pipeline_role_binding_binds_the_driver_service_account_to_its_role() -> None:
    ref = PipelineRef("prod", "k2", "uid-1")
    role, binding = build_role(ref), build_role_binding(ref)
    assert binding["roleRef"]["name"] == role["metadata"]["name"] == "prod-spark-driver"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "prod-spark-driver", "namespace": "k2"}]
    assert role["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
