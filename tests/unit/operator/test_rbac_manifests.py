"""The RBAC: least privilege (the operator's rules in charts/k2/files/operator-rules.yaml, the drivers'
ClusterRole from k2_operator/manifests/driver-role.yaml): the operator binds the drivers' ClusterRole
instead of holding the drivers' verbs itself."""

from __future__ import annotations

from typing import Any

import pytest
from k2_operator.builders import PipelineRef
from k2_operator.driver_rbac import (
    DEFAULT_DRIVER_CLUSTER_ROLE,
    build_progress_role,
    build_progress_role_binding,
    build_role_binding,
    build_service_account,
    driver_role_rules,
)

from spark_jobs.contracts import JOB_NAMES
from tests.fixtures.chart_fixtures import operator_rules

pytestmark = pytest.mark.unit


def operator_cluster_role() -> dict[str, Any]:
    rules = operator_rules()
    return {"rules": rules["clusterScoped"] + rules["namespaced"]}


def grants(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_the_operator_does_not_hold_the_drivers_own_verbs() -> None:
    # It binds the drivers' ClusterRole (the chart adds `bind` on that one name): Kubernetes lets a
    # subject with `bind` create a RoleBinding to a role without holding the role's permissions.
    held = grants(operator_rules()["namespaced"])
    assert ("", "pods", "deletecollection") not in held
    assert not [grant for grant in held if grant[1] == "persistentvolumeclaims"]
    assert ("rbac.authorization.k8s.io", "roles", "escalate") not in held


def test_the_operator_holds_what_the_pipelines_own_driver_role_grants() -> None:
    # Kubernetes refuses to create a Role granting more than its creator holds (no `escalate` here).
    per_pipeline = build_progress_role(PipelineRef("prod", "k2", "uid-1"))["rules"]
    assert grants(per_pipeline) - grants(operator_rules()["namespaced"]) == set()


def test_a_driver_may_patch_only_its_pipelines_driver_pods_by_name() -> None:
    """The progress annotation: patch on pods exists only with resourceNames, the pipeline's drivers."""
    ref = PipelineRef("prod", "k2", "uid-1")
    assert not [rule for rule in driver_role_rules() if "patch" in rule["verbs"]]
    role, binding = build_progress_role(ref), build_progress_role_binding(ref)
    assert binding["roleRef"]["name"] == role["metadata"]["name"] == "prod-spark-driver-progress"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "prod-spark-driver", "namespace": "k2"}]
    patching = [rule for rule in role["rules"] if "patch" in rule["verbs"]]
    assert patching == [
        {
            "apiGroups": [""],
            "resources": ["pods"],
            "resourceNames": [f"prod-{job}-driver" for job in JOB_NAMES],
            "verbs": ["patch"],
        }
    ]


def test_cluster_scoped_rules_name_only_cluster_scoped_resources() -> None:
    # What a namespaced operator (Roles only) goes without: nothing it needs inside a namespace.
    held = grants(operator_rules()["clusterScoped"])
    assert {resource for _, resource, _ in held} == {"customresourcedefinitions", "nodes"}
    assert {verb for _, resource, verb in held if resource == "nodes"} == {"get"}


def test_operator_cluster_role_has_no_wildcards_and_no_secrets() -> None:
    held = grants(operator_cluster_role()["rules"])
    assert not any("*" in grant for grant in held)
    assert not any(resource == "secrets" for _, resource, _ in held)
    # `bind` comes only from the chart, on the drivers' ClusterRole by name (tests/chart).
    assert not any(verb in ("escalate", "bind", "impersonate") for _, _, verb in held)


def test_driver_role_covers_what_spark_needs_for_executors() -> None:
    held = grants(list(driver_role_rules()))
    for verb in ("create", "get", "list", "watch", "delete"):
        assert ("", "pods", verb) in held
    for resource in ("services", "configmaps", "persistentvolumeclaims"):
        assert ("", resource, "create") in held


def test_per_pipeline_role_binding_binds_the_driver_service_account_to_the_drivers_cluster_role() -> None:
    ref = PipelineRef("prod", "k2", "uid-1")
    account, binding = build_service_account(ref), build_role_binding(ref)
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": DEFAULT_DRIVER_CLUSTER_ROLE,
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "prod-spark-driver", "namespace": "k2"}]
    assert account["metadata"]["name"] == "prod-spark-driver"
    assert binding["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
