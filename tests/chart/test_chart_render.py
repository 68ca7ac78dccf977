"""The Helm chart offline: `helm lint`, and `helm template` with the default values and with a values file
using every option, each object validated strictly against the Kubernetes 1.37 schemas
(kubernetes-validate) and, for StreamingPipelines, against the CRD's own OpenAPI schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from k2_operator.driver_rbac import DEFAULT_DRIVER_CLUSTER_ROLE, driver_role_rules

from tests.fixtures.chart_fixtures import CHART_DIR, Helm, operator_rules
from tests.fixtures.kube_fixtures import CRD_PATH, REPO_ROOT

pytestmark = pytest.mark.chart

EVERY_OPTION = Path(__file__).with_name("values-every-option.yaml")
EXAMPLE = REPO_ROOT / "examples" / "streamingpipeline.yaml"
CLUSTER_KINDS = {"ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] == kind]


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = by_kind(objects, kind)
    return found


def leaf_paths(value: Any, prefix: str = "") -> set[str]:
    if isinstance(value, dict) and value:
        return set().union(*(leaf_paths(v, f"{prefix}.{k}" if prefix else k) for k, v in value.items()))
    return {prefix}


def monitoring_crd_validator(request: pytest.FixtureRequest, kind: str) -> jsonschema.Draft4Validator:
    from tests.monitoring.test_chart_monitoring import crd_schemas

    return jsonschema.Draft4Validator(crd_schemas(request.getfixturevalue("prometheus_operator_crds"))[kind])


def crd_validator() -> jsonschema.Draft4Validator:
    # OpenAPI v3.0 schemas use the draft-4 style boolean exclusiveMinimum; x-kubernetes-* keys are ignored.
    crd = yaml.safe_load(CRD_PATH.read_text())
    return jsonschema.Draft4Validator(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])


@pytest.fixture(scope="module")
def defaults(helm: Helm) -> list[dict[str, Any]]:
    return helm.template()


@pytest.fixture(scope="module")
def every_option(helm: Helm) -> list[dict[str, Any]]:
    return helm.template(yaml.safe_load(EVERY_OPTION.read_text()), namespace="platform")


def test_helm_lint_passes_with_defaults_and_with_every_option(helm: Helm) -> None:
    helm.run("lint", "--strict", str(CHART_DIR))
    helm.run("lint", "--strict", str(CHART_DIR), "--values", str(EVERY_OPTION))


def test_the_every_option_file_sets_every_value() -> None:
    defaults = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    set_paths = leaf_paths(yaml.safe_load(EVERY_OPTION.read_text()))
    # A default empty map or list ({} / []) is set when the file has anything under it.
    missing = {
        path
        for path in leaf_paths(defaults)
        if not any(other == path or other.startswith(f"{path}.") for other in set_paths)
    }
    assert missing == set()


@pytest.mark.parametrize("values", ["defaults", "every_option"])
def test_every_rendered_object_is_a_valid_kubernetes_1_37_object(
    values: str, request: pytest.FixtureRequest
) -> None:
    objects: list[dict[str, Any]] = request.getfixturevalue(values)
    assert {obj["kind"] for obj in objects} >= {"Deployment", "ServiceAccount", "Service"}
    for obj in objects:
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            # Not a Kubernetes kind: checked against the prometheus-operator CRD's own schema.
            monitoring_crd_validator(request, obj["kind"]).validate(obj)
        else:
            kubernetes_validate.validate(obj, "1.37", strict=True)
        if obj["kind"] not in CLUSTER_KINDS:
            assert obj["metadata"]["namespace"], obj["metadata"]["name"]
        if obj["apiVersion"].startswith("k2.dev/"):
            crd_validator().validate(obj)


def test_a_misspelled_field_in_a_template_would_be_caught(defaults: list[dict[str, Any]]) -> None:
    deployment = yaml.safe_load(yaml.safe_dump(one(defaults, "Deployment")))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.37", strict=True)


def test_the_crd_is_the_one_in_crds_with_the_keep_policy(defaults: list[dict[str, Any]]) -> None:
    rendered = one(defaults, "CustomResourceDefinition")
    source = yaml.safe_load(CRD_PATH.read_text())
    assert rendered["metadata"].pop("annotations") == {"helm.sh/resource-policy": "keep"}
    assert rendered == source


def test_the_example_pipeline_matches_the_crd_schema() -> None:
    crd_validator().validate(yaml.safe_load(EXAMPLE.read_text()))
    bad = yaml.safe_load(EXAMPLE.read_text())
    bad["spec"]["resources"]["totalCores"] = 64
    assert not crd_validator().is_valid(bad)


def bind_rule(name: str) -> dict[str, Any]:
    return {
        "apiGroups": ["rbac.authorization.k8s.io"],
        "resources": ["clusterroles"],
        "verbs": ["bind"],
        "resourceNames": [name],
    }


def driver_cluster_role(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (role,) = [o for o in by_kind(objects, "ClusterRole") if o["metadata"]["name"].endswith("-spark-driver")]
    return role


def test_cluster_wide_rbac_is_exactly_the_operator_rules(defaults: list[dict[str, Any]]) -> None:
    rules = operator_rules()
    driver = driver_cluster_role(defaults)
    assert driver["metadata"]["name"] == DEFAULT_DRIVER_CLUSTER_ROLE == "k2-operator-spark-driver"
    assert driver["rules"] == list(driver_role_rules())
    (role,) = [o for o in by_kind(defaults, "ClusterRole") if o is not driver]
    # The operator binds the drivers' ClusterRole by name; it does not hold the drivers' verbs.
    assert role["rules"] == rules["clusterScoped"] + rules["namespaced"] + [
        bind_rule(driver["metadata"]["name"])
    ]
    binding = one(defaults, "ClusterRoleBinding")
    account = one(defaults, "ServiceAccount")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": "k2-system"}
    ]
    assert by_kind(defaults, "Role") == []
    env = {e["name"]: e.get("value") for e in container(one(defaults, "Deployment"))["env"]}
    assert env["K2_OPERATOR_DRIVER_CLUSTER_ROLE"] == driver["metadata"]["name"]


def test_watch_namespaces_mode_grants_roles_in_those_namespaces_only(
    every_option: list[dict[str, Any]],
) -> None:
    # Nothing cluster-wide is granted to the operator; the drivers' ClusterRole is only bound per
    # pipeline, inside a watched namespace.
    assert by_kind(every_option, "ClusterRoleBinding") == []
    driver = driver_cluster_role(every_option)
    assert driver["metadata"]["name"] == "k2-control-spark-driver"
    assert by_kind(every_option, "ClusterRole") == [driver]
    roles = by_kind(every_option, "Role")
    assert sorted(role["metadata"]["namespace"] for role in roles) == ["team-a", "team-b"]
    for role in roles:
        assert role["rules"] == operator_rules()["namespaced"] + [bind_rule("k2-control-spark-driver")]
    for binding in by_kind(every_option, "RoleBinding"):
        assert binding["roleRef"]["kind"] == "Role"
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "k2-control-sa", "namespace": "platform"}
        ]
    env = {e["name"]: e.get("value") for e in container(one(every_option, "Deployment"))["env"]}
    assert env["K2_OPERATOR_WATCH_NAMESPACES"] == "team-a,team-b"
    assert env["K2_OPERATOR_DRIVER_CLUSTER_ROLE"] == "k2-control-spark-driver"


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (found,) = deployment["spec"]["template"]["spec"]["containers"]
    return found


def test_operator_deployment_defaults(defaults: list[dict[str, Any]]) -> None:
    deployment = one(defaults, "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 185
    assert pod["securityContext"]["runAsNonRoot"] is True
    main = container(deployment)
    app_version = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())["appVersion"]
    assert main["image"] == f"docker.io/k2/operator:{app_version}"
    assert main["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert main["securityContext"]["readOnlyRootFilesystem"] is True
    assert main["resources"]["requests"] and main["resources"]["limits"]
    ports = {p["name"]: p["containerPort"] for p in main["ports"]}
    assert ports == {"metrics": 8080, "health": 8081}
    for probe in ("livenessProbe", "readinessProbe"):
        assert main[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    env = {e["name"]: e.get("value") for e in main["env"]}
    assert env["K2_OPERATOR_LIVENESS"] == "http://0.0.0.0:8081/healthz"
    assert env["K2_OPERATOR_METRICS_PORT"] == "8080"
    assert "K2_OPERATOR_WATCH_NAMESPACES" not in env
    assert pod["serviceAccountName"] == one(defaults, "ServiceAccount")["metadata"]["name"]


def test_every_option_reaches_the_deployment(every_option: list[dict[str, Any]]) -> None:
    deployment = one(every_option, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    main = container(deployment)
    assert deployment["metadata"]["name"] == "k2-control"
    assert main["image"] == (
        "registry.internal:5000/platform/k2-operator@sha256:"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    )
    assert main["imagePullPolicy"] == "Always"
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert main["args"] == ["--verbose"]
    assert {"name": "TZ", "value": "UTC"} in main["env"]
    assert {p["name"]: p["containerPort"] for p in main["ports"]} == {"metrics": 9090, "health": 9092}
    assert main["livenessProbe"]["periodSeconds"] == 15
    assert pod["priorityClassName"] == "system-cluster-critical"
    assert pod["tolerations"][0]["value"] == "k2"
    assert deployment["spec"]["template"]["metadata"]["labels"]["team"] == "platform"
    service = one(every_option, "Service")
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 9091, "targetPort": "metrics", "protocol": "TCP"}
    ]
    assert "annotations" not in one(every_option, "CustomResourceDefinition")["metadata"]  # keep: false


def test_metrics_service_selects_the_operator_pod(defaults: list[dict[str, Any]]) -> None:
    service = one(defaults, "Service")
    pod_labels = one(defaults, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"


def test_switches_leave_their_objects_out(helm: Helm) -> None:
    objects = helm.template(
        {
            "crds": {"install": False},
            "rbac": {"create": False},
            "metrics": {"service": {"enabled": False}},
            "serviceAccount": {"create": False, "name": "existing"},
        }
    )
    assert sorted(obj["kind"] for obj in objects) == ["Deployment"]
    assert one(objects, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "existing"


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"imagee": {}}, "imagee"),
        ({"image": {"pullPolicy": "Sometimes"}}, "pullPolicy"),
        ({"watchNamespaces": ["Team_A"]}, "watchNamespaces"),
        ({"metrics": {"port": 70000}}, "port"),
    ],
)
def test_the_values_schema_rejects_bad_values_naming_them(
    helm: Helm, values: dict[str, Any], named: str
) -> None:
    result = helm.run(
        "template", "k2", str(CHART_DIR), "--values", str(helm.values_file(values)), check=False
    )
    assert result.returncode != 0
    assert named in result.stderr
