"""The StreamingPipeline CRD on a real kube-apiserver built from source: it becomes Established, the
example CR is accepted and shown by the kubectl built here, the server applies the same defaults as the
typed spec, the status subresource behaves, and owned objects are garbage-collected."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from k2_operator import naming as n
from k2_operator.pipeline_spec import PipelineSpec
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.fixtures.kube_fixtures import KubeCluster

pytestmark = pytest.mark.operator

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_PATH = REPO_ROOT / "examples" / "streamingpipeline.yaml"
GROUP, VERSION, PLURAL = "k2.dev", "v1alpha1", "streamingpipelines"
NAMESPACE = "k2-crd-tests"

MINIMAL_SPEC: dict[str, Any] = {
    "image": "k2/streaming:test",
    "kafka": {"bootstrapServers": "kafka:9092"},
    "schemaRegistry": {"url": "http://registry:8080/apis/ccompat/v7"},
    "storage": {
        "tablesUri": "file:///data/tables",
        "checkpointsUri": "file:///data/checkpoints",
        "volume": {"claimName": "k2-data", "mountPath": "/data"},
    },
    "exchanges": [{"name": "binance", "symbols": ["BTCUSDT"]}, {"name": "kraken", "symbols": ["BTC/USD"]}],
}


def pipeline(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "StreamingPipeline",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": spec,
    }


@pytest.fixture(scope="module")
def api(
    kube_cluster: KubeCluster, streamingpipeline_crd: dict[str, Any]
) -> Iterator[client.CustomObjectsApi]:
    core = client.CoreV1Api(kube_cluster.api_client)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
    yield client.CustomObjectsApi(kube_cluster.api_client)
    core.delete_namespace(NAMESPACE)


def create(api: client.CustomObjectsApi, body: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = api.create_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, PLURAL, body, field_validation="Strict"
    )
    return result


def get(api: client.CustomObjectsApi, name: str) -> dict[str, Any]:
    result: dict[str, Any] = api.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, name)
    return result


# --- accepted ---------------------------------------------------------------------------------------


def test_crd_is_established_with_its_names(
    kube_cluster: KubeCluster, streamingpipeline_crd: dict[str, Any]
) -> None:
    crd = client.ApiextensionsV1Api(kube_cluster.api_client).read_custom_resource_definition(
        "streamingpipelines.k2.dev"
    )
    conditions = {c.type: c.status for c in crd.status.conditions}
    assert conditions["Established"] == "True"
    assert conditions["NamesAccepted"] == "True"
    assert crd.status.accepted_names.short_names == ["sp"]
    assert crd.spec.versions[0].subresources.status is not None


def test_example_is_accepted_and_kubectl_shows_the_printer_columns(
    kube_cluster: KubeCluster, streamingpipeline_crd: dict[str, Any]
) -> None:
    example = yaml.safe_load(EXAMPLE_PATH.read_text())
    name, namespace = example["metadata"]["name"], example["metadata"]["namespace"]
    kube_cluster.kubectl("apply", "-f", str(EXAMPLE_PATH))
    try:
        table = kube_cluster.kubectl("get", "sp", name, "-n", namespace).stdout.splitlines()
        assert table[0].split() == ["NAME", "PHASE", "READY", "CORES", "QUALITY", "AGE"]
        assert table[1].split()[:2] == [name, "14"]  # no status yet: PHASE and READY are empty

        status = {"status": {"phase": "Running", "ready": "5/5", "observedGeneration": 1}}
        kube_cluster.kubectl(
            "patch",
            "sp",
            name,
            "-n",
            namespace,
            "--subresource=status",
            "--type=merge",
            "-p",
            yaml.safe_dump(status),
        )
        row = kube_cluster.kubectl("get", "sp", name, "-n", namespace, "--no-headers").stdout.split()
        assert row[:4] == [name, "Running", "5/5", "14"]
        wide = kube_cluster.kubectl(
            "get", "streamingpipelines.k2.dev", name, "-n", namespace, "-o", "wide"
        ).stdout
        assert wide.split()[:8] == [
            "NAME", "PHASE", "READY", "CORES", "QUALITY", "QUALITY-RUN", "SUSPENDED", "AGE"
        ]  # fmt: skip
        # SUSPENDED is the column before AGE (QUALITY may show an operator's "pending", QUALITY-RUN is empty)
        assert wide.splitlines()[1].split()[-2] == "false"
        # The example spells out every default, so the server stored exactly what the model reads.
        stored = yaml.safe_load(kube_cluster.kubectl("get", "sp", name, "-n", namespace, "-o", "yaml").stdout)
        assert PipelineSpec.from_cr_spec(stored["spec"]) == PipelineSpec.from_cr_spec(example["spec"])
    finally:
        kube_cluster.kubectl("delete", "-f", str(EXAMPLE_PATH), "--wait=true")


def test_server_defaults_equal_the_typed_spec_defaults(api: client.CustomObjectsApi) -> None:
    spec = copy.deepcopy(MINIMAL_SPEC)
    spec["kafka"]["credentialsSecretRef"] = {"name": "kafka-auth"}
    spec["schemaRegistry"]["credentialsSecretRef"] = {"name": "registry-auth"}
    stored = create(api, pipeline("defaults", spec))["spec"]
    python = PipelineSpec.from_cr_spec(spec)
    assert PipelineSpec.from_cr_spec(stored) == python
    # Field by field: what the server filled in is what the model fills in, minus what only the
    # model derives (each exchange's topic) and empty maps.
    expected = python.to_cr_spec()
    for exchange in expected["exchanges"]:
        del exchange["topic"]
    expected = {k: v for k, v in expected.items() if v != {}}
    expected["storage"] = {k: v for k, v in expected["storage"].items() if v != {}}
    assert stored == expected
    assert stored["resources"]["totalCores"] == 14


# --- rejected -----------------------------------------------------------------------------------------

DELETE = object()


def merged(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """`base` with `change` merged in (nested dicts merge, DELETE removes a key)."""
    out = copy.deepcopy(base)
    for key, value in change.items():
        if value is DELETE:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict) and value:
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


#: (id, change to MINIMAL_SPEC, substrings the API server's message must contain: field path first).
INVALID_SPECS: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    (
        "cores-11",
        {"resources": {"totalCores": 11}},
        ("spec.resources.totalCores", "greater than or equal to 12"),
    ),
    (
        "cores-17",
        {"resources": {"totalCores": 17}},
        ("spec.resources.totalCores", "less than or equal to 16"),
    ),
    (
        "cores-string",
        {"resources": {"totalCores": "14"}},
        ("spec.resources.totalCores", "must be of type integer"),
    ),
    (
        "pull-policy-enum",
        {"imagePullPolicy": "Sometimes"},
        ("spec.imagePullPolicy", 'Unsupported value: "Sometimes"'),
    ),
    (
        "restart-type-enum",
        {"restartPolicy": {"type": "Maybe"}},
        ("spec.restartPolicy.type", 'Unsupported value: "Maybe"'),
    ),
    (
        "kafka-servers-missing",
        {"kafka": {"bootstrapServers": DELETE}},
        ("spec.kafka.bootstrapServers", "Required value"),
    ),
    (
        "bootstrap-no-port",
        {"kafka": {"bootstrapServers": "kafka"}},
        ("spec.kafka.bootstrapServers", "should match"),
    ),
    (
        "bootstrap-space",
        {"kafka": {"bootstrapServers": "a:9092, b:9092"}},
        ("spec.kafka.bootstrapServers", "should match"),
    ),
    (
        "bootstrap-port-range",
        {"kafka": {"bootstrapServers": "a:9092,b:99999"}},
        ("spec.kafka.bootstrapServers", "between 1 and 65535"),
    ),
    ("registry-missing", {"schemaRegistry": DELETE}, ("spec.schemaRegistry", "Required value")),
    (
        "registry-no-scheme",
        {"schemaRegistry": {"url": "registry:8080"}},
        ("spec.schemaRegistry.url", "should match"),
    ),
    (
        "tables-uri-path",
        {"storage": {"tablesUri": "/data/tables"}},
        ("spec.storage.tablesUri", "should match"),
    ),
    ("tables-uri-s3", {"storage": {"tablesUri": "s3://lake/t"}}, ("spec.storage.tablesUri", "should match")),
    (
        "checkpoints-equal-tables",
        {"storage": {"checkpointsUri": "file:///data/tables"}},
        ("spec.storage.checkpointsUri", "must differ from tablesUri"),
    ),
    (
        "hadoop-conf-spark-prefix",
        {"storage": {"hadoopConf": {"spark.hadoop.fs.s3a.endpoint": "http://m:9000"}}},
        ("spec.storage.hadoopConf", "keys are Hadoop keys without the spark.hadoop. prefix"),
    ),
    (
        "file-uri-without-volume",
        {"storage": {"volume": DELETE}},
        ("spec.storage.tablesUri", "needs storage.volume"),
    ),
    (
        "file-uri-outside-volume",
        {"storage": {"checkpointsUri": "file:///database/checkpoints"}},
        ("spec.storage.checkpointsUri", "must lie under storage.volume.mountPath"),
    ),
    (
        "volume-mount-path-relative",
        {"storage": {"volume": {"claimName": "k2-data", "mountPath": "data"}}},
        ("spec.storage.volume.mountPath", "should match"),
    ),
    (
        "hadoop-conf-credentials",
        {"storage": {"hadoopConf": {"fs.s3a.secret.key": "hunter2"}}},
        ("spec.storage.hadoopConf", "credentials go in a Secret named by storage.secretRef"),
    ),
    (
        "feed-source-enum",
        {"exchanges": [{"name": "binance", "symbols": ["BTCUSDT"], "feed": {"source": "tv"}}]},
        ("spec.exchanges[0].feed.source", 'Unsupported value: "tv"'),
    ),
    (
        "feed-source-missing",
        {"exchanges": [{"name": "binance", "symbols": ["BTCUSDT"], "feed": {"rate": 5}}]},
        ("spec.exchanges[0].feed.source", "Required value"),
    ),
    (
        "feed-rate-live",
        {"exchanges": [{"name": "binance", "symbols": ["BTCUSDT"], "feed": {"source": "live", "rate": 5}}]},
        ("spec.exchanges[0].feed.rate", "rate applies to the replay and synthetic sources"),
    ),
    (
        "backoff-negative",
        {"restartPolicy": {"backoffInitialSeconds": -1}},
        ("spec.restartPolicy.backoffInitialSeconds", "greater than or equal to 1"),
    ),
    (
        "max-retries-negative",
        {"restartPolicy": {"maxRetries": -1}},
        ("spec.restartPolicy.maxRetries", "greater than or equal to 0"),
    ),
    (
        "backoff-max-below-initial",
        {"restartPolicy": {"backoffInitialSeconds": 60, "backoffMaxSeconds": 30}},
        ("spec.restartPolicy.backoffMaxSeconds", "must be at least backoffInitialSeconds"),
    ),
    (
        "memory-bad-quantity",
        {"resources": {"memoryPerCore": "2GB"}},
        ("spec.resources.memoryPerCore", "should match"),
    ),
    (
        "memory-too-small",
        {"resources": {"memoryPerCore": "128Mi"}},
        ("spec.resources.memoryPerCore", "between 512Mi and 64Gi"),
    ),
    (
        "cpu-ratio-zero",
        {"resources": {"cpuRequestRatio": 0}},
        ("spec.resources.cpuRequestRatio", "greater than 0"),
    ),
    (
        "cpu-ratio-above-one",
        {"resources": {"cpuRequestRatio": 1.5}},
        ("spec.resources.cpuRequestRatio", "less than or equal to 1"),
    ),
    (
        "spark-conf-master",
        {"sparkConf": {"spark.master": "local[*]", "spark.sql.shuffle.partitions": "4"}},
        ("spec.sparkConf", "Forbidden: spark.master is set by the operator"),
    ),
    (
        "spark-conf-executor-instances",
        {"sparkConf": {"spark.executor.instances": "9"}},
        ("spec.sparkConf", "Forbidden: spark.executor.instances is set by the operator"),
    ),
    (
        "exchange-enum",
        {"exchanges": [{"name": "coinbase", "symbols": ["BTC-USD"]}]},
        ("spec.exchanges[0].name", 'Unsupported value: "coinbase"'),
    ),
    ("exchanges-empty", {"exchanges": []}, ("spec.exchanges", "should have at least 1 items")),
    (
        "exchanges-duplicate",
        {"exchanges": [{"name": "binance", "symbols": ["A"]}, {"name": "binance", "symbols": ["B"]}]},
        ("spec.exchanges[1]", "Duplicate value"),
    ),
    (
        "kraken-symbol-no-slash",
        {"exchanges": [{"name": "kraken", "symbols": ["BTCUSD"]}]},
        ("spec.exchanges[0].symbols", "kraken symbols are BASE/QUOTE"),
    ),
    (
        "binance-symbol-slash",
        {"exchanges": [{"name": "binance", "symbols": ["BTC/USDT"]}]},
        ("spec.exchanges[0].symbols", "binance symbols have no slash"),
    ),
    (
        "symbol-lowercase",
        {"exchanges": [{"name": "binance", "symbols": ["btcusdt"]}]},
        ("spec.exchanges[0].symbols[0]", "should match"),
    ),
    (
        "topics-duplicate",
        {
            "exchanges": [
                {"name": "binance", "topic": "t", "symbols": ["A"]},
                {"name": "kraken", "topic": "t", "symbols": ["B/C"]},
            ]
        },
        ("spec.exchanges", "topic must be unique"),
    ),
    ("trigger-format", {"triggers": {"bronze": "10s"}}, ("spec.triggers.bronze", "should match")),
    (
        "watermark-format",
        {"triggers": {"goldWatermark": "soon"}},
        ("spec.triggers.goldWatermark", "should match"),
    ),
    ("image-missing", {"image": DELETE}, ("spec.image", "Required value")),
    ("image-whitespace", {"image": "k2 streaming"}, ("spec.image", "should match")),
    (
        "driver-timeout-low",
        {"driverStartTimeoutSeconds": 5},
        ("spec.driverStartTimeoutSeconds", "greater than or equal to 30"),
    ),
    ("suspend-string", {"suspend": "yes"}, ("spec.suspend", "must be of type boolean")),
    (
        "secret-name-invalid",
        {"kafka": {"credentialsSecretRef": {"name": "Kafka_Creds"}}},
        ("spec.kafka.credentialsSecretRef.name", "should match"),
    ),
    (
        "secret-keys-equal",
        {"kafka": {"credentialsSecretRef": {"name": "k", "usernameKey": "u", "passwordKey": "u"}}},
        ("spec.kafka.credentialsSecretRef.passwordKey", "must differ from usernameKey"),
    ),
    ("unknown-field", {"replicas": 3}, ('unknown field "spec.replicas"',)),
]


@pytest.mark.parametrize(("change", "expected"), [pytest.param(c, e, id=i) for i, c, e in INVALID_SPECS])
def test_invalid_spec_is_rejected_naming_the_field(
    api: client.CustomObjectsApi,
    request: pytest.FixtureRequest,
    change: dict[str, Any],
    expected: tuple[str, ...],
) -> None:
    name = f"bad-{request.node.callspec.id}"
    with pytest.raises(ApiException) as error:
        create(api, pipeline(name, merged(MINIMAL_SPEC, change)))
    assert error.value.status in (400, 422)
    message = yaml.safe_load(error.value.body)["message"]
    for fragment in expected:
        assert fragment in message
    assert "evaluating rule" not in message  # a CEL rule must not fail on input its pattern rejects
    print(f"{name} -> {message}")


def test_minimal_spec_itself_is_accepted_by_dry_run(api: client.CustomObjectsApi) -> None:
    """The invalid cases differ from an accepted spec only by their change."""
    accepted: dict[str, Any] = api.create_namespaced_custom_object(
        GROUP,
        VERSION,
        NAMESPACE,
        PLURAL,
        pipeline("minimal", MINIMAL_SPEC),
        dry_run="All",
        field_validation="Strict",
    )
    assert accepted["spec"]["resources"]["totalCores"] == 14


def test_kubectl_apply_rejects_an_invalid_cr(kube_cluster: KubeCluster, api: client.CustomObjectsApi) -> None:
    body = pipeline("kubectl-bad-cores", merged(MINIMAL_SPEC, {"resources": {"totalCores": 17}}))
    result = kube_cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(body), check=False)
    assert result.returncode != 0
    assert "spec.resources.totalCores" in result.stderr
    assert "less than or equal to 16" in result.stderr


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("trades.v2", "no dots"),
        ("2trades", "must start with a letter"),
        ("t" * 33, "at most 32 characters"),
    ],
)
def test_names_that_cannot_name_the_children_are_rejected_at_apply_time(
    api: client.CustomObjectsApi, name: str, why: str
) -> None:
    """<name>-<job>-driver must be a Service name (DNS-1035: no dots, a letter first) and <name>-<job>
    fits Spark's 47-character executor prefix: the CRD's CEL rule on metadata.name refuses the rest."""
    with pytest.raises(ApiException) as error:
        create(api, pipeline(name, MINIMAL_SPEC))
    assert error.value.status == 422, why
    assert "metadata.name must" in yaml.safe_load(error.value.body)["message"], why
    accepted = create(api, pipeline("t" * 32, MINIMAL_SPEC))  # the longest name that fits
    assert n.check_pipeline_name(accepted["metadata"]["name"]) is None
    api.delete_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, "t" * 32)
    with pytest.raises(ValueError):
        n.check_pipeline_name(name)


def test_restart_nonces_and_job_keys_are_checked(api: client.CustomObjectsApi) -> None:
    ok = merged(MINIMAL_SPEC, {"restartNonce": 3, "jobs": {"gold": {"restartNonce": 1}}})
    body = api.create_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, PLURAL, pipeline("nonces", ok), dry_run="All", field_validation="Strict"
    )
    assert PipelineSpec.from_cr_spec(body["spec"]).restart_nonce_of("gold") == "3.1"
    assert body["spec"]["restartPolicy"]["type"] == "Always"
    with pytest.raises(ApiException) as error:
        create(api, pipeline("bad-job", merged(MINIMAL_SPEC, {"jobs": {"platinum": {"restartNonce": 1}}})))
    assert "jobs keys are job names" in yaml.safe_load(error.value.body)["message"]


def test_every_denylisted_spark_conf_key_is_rejected(api: client.CustomObjectsApi) -> None:
    from k2_operator.pipeline_spec import SPARK_CONF_DENYLIST

    for key in SPARK_CONF_DENYLIST:
        with pytest.raises(ApiException) as error:
            create(api, pipeline("bad-spark-conf", merged(MINIMAL_SPEC, {"sparkConf": {key: "x"}})))
        assert (
            f"spec.sparkConf: Forbidden: {key} is set by the operator"
            in yaml.safe_load(error.value.body)["message"]
        )


def test_every_denied_spark_conf_prefix_is_rejected_naming_the_field(api: client.CustomObjectsApi) -> None:
    # hostPath volumes, Secret mounts and env, identity: refused at apply time, the message names the field.
    from k2_operator.pipeline_spec import SPARK_CONF_DENIED_PREFIXES, spark_conf_refusal

    for prefix, _ in SPARK_CONF_DENIED_PREFIXES:
        key = prefix + ("hostPath.data.mount.path" if "volumes" in prefix else "x")
        with pytest.raises(ApiException) as error:
            create(api, pipeline("bad-spark-conf", merged(MINIMAL_SPEC, {"sparkConf": {key: "x"}})))
        message = yaml.safe_load(error.value.body)["message"]
        assert f"spec.sparkConf: Forbidden: {spark_conf_refusal(key)}" in message, message


POD_TEMPLATE: dict[str, Any] = {
    "labels": {"team": "data"},
    "executor": {"annotations": {"example.com/a": "1"}},
    "nodeSelector": {"pool": "spark"},
    "tolerations": [{"key": "spark", "operator": "Exists", "effect": "NoSchedule"}],
    "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []}},
    "priorityClassName": "streaming",
    "imagePullSecrets": [{"name": "regcred"}],
    "volumes": [
        {"name": "scratch", "emptyDir": {}},
        {"name": "ref", "persistentVolumeClaim": {"claimName": "r"}},
    ],
    "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
}


def test_a_pod_template_is_accepted_and_kept_as_written(api: client.CustomObjectsApi) -> None:
    spec = merged(MINIMAL_SPEC, {"podTemplate": POD_TEMPLATE, "driverPodDisruptionBudget": True})
    accepted: dict[str, Any] = api.create_namespaced_custom_object(
        GROUP,
        VERSION,
        NAMESPACE,
        PLURAL,
        pipeline("scheduled", spec),
        dry_run="All",
        field_validation="Strict",
    )
    assert accepted["spec"]["podTemplate"] == POD_TEMPLATE
    assert PipelineSpec.from_cr_spec(accepted["spec"]).pod_template is not None


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        pytest.param(
            {"volumes": [{"name": "host", "hostPath": {"path": "/"}}]},
            'unknown field "spec.podTemplate.volumes[0].hostPath"',
            id="hostPath-strict",
        ),
        pytest.param(
            {"volumes": [{"name": "creds", "secret": {"secretName": "s"}}]},
            'unknown field "spec.podTemplate.volumes[0].secret"',
            id="secret-strict",
        ),
        pytest.param(
            {"volumes": [{"name": "tmp", "emptyDir": {}}]},
            "spec.podTemplate.volumes[0].name",
            id="reserved-volume",
        ),
        pytest.param(
            {"volumes": [{"name": "v", "emptyDir": {}}], "volumeMounts": [{"name": "w", "mountPath": "/w"}]},
            "must name a volume of podTemplate.volumes",
            id="mount-without-volume",
        ),
        pytest.param(
            {
                "volumes": [{"name": "v", "emptyDir": {}}],
                "volumeMounts": [{"name": "v", "mountPath": "/data"}],
            },
            "spec.podTemplate.volumeMounts",
            id="mount-on-storage",
        ),
        pytest.param({"labels": {"k2.dev/job": "x"}}, "spec.podTemplate.labels", id="operator-label"),
        pytest.param(
            {"tolerations": [{"key": "k", "operator": "Maybe"}]},
            "spec.podTemplate.tolerations[0].operator",
            id="toleration-operator",
        ),
    ],
)
def test_a_pod_template_cannot_add_host_paths_secrets_or_operator_names(
    api: client.CustomObjectsApi, template: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ApiException) as error:
        create(api, pipeline("bad-template", merged(MINIMAL_SPEC, {"podTemplate": template})))
    message = yaml.safe_load(error.value.body)["message"]
    assert fragment in message, message


def test_a_host_path_volume_is_refused_even_without_strict_field_validation(
    api: client.CustomObjectsApi,
) -> None:
    # A client that does not ask for strict validation gets the unknown source pruned: the volume is
    # then left without a source, which a CEL rule refuses with a message that says why.
    spec = merged(MINIMAL_SPEC, {"podTemplate": {"volumes": [{"name": "host", "hostPath": {"path": "/"}}]}})
    with pytest.raises(ApiException) as error:
        api.create_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, PLURAL, pipeline("lax", spec), field_validation="Ignore"
        )
    message = yaml.safe_load(error.value.body)["message"]
    assert (
        "spec.podTemplate.volumes[0]" in message and "hostPath and Secret volumes are not allowed" in message
    )


# --- status subresource --------------------------------------------------------------------------------


def test_status_subresource_accepts_status_and_the_main_resource_ignores_it(
    api: client.CustomObjectsApi,
) -> None:
    name = "status-check"
    created = create(api, pipeline(name, MINIMAL_SPEC))
    assert created["metadata"]["generation"] == 1

    ignored = api.patch_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, PLURAL, name, {"status": {"phase": "Running"}}
    )
    assert "status" not in ignored
    assert ignored["metadata"]["generation"] == 1

    status = {
        "phase": "Running",
        "ready": "5/5",
        "observedGeneration": 1,
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "observedGeneration": 1,
                "lastTransitionTime": "2026-01-01T00:00:00Z",
                "reason": "AllDriversRunning",
                "message": "5/5",
            },
        ],
        "jobs": {"gold": {"phase": "Running", "driverPod": "p-gold-driver", "restarts": 0, "cores": 3}},
        "plan": {
            "totalCores": 14,
            "jobs": {
                "gold": {
                    "driverCores": 1,
                    "executorInstances": 1,
                    "executorCores": 2,
                    "executorMemory": "4Gi",
                }
            },
        },
        "kopf": {"progress": {"create_fn": {"retries": 1, "success": True}}},
        "notInTheSchema": "dropped",
    }
    patched = api.patch_namespaced_custom_object_status(
        GROUP, VERSION, NAMESPACE, PLURAL, name, {"status": status, "spec": {"suspend": True}}
    )
    assert patched["status"]["phase"] == "Running"
    assert patched["status"]["jobs"]["gold"]["cores"] == 3
    assert patched["status"]["conditions"][0]["observedGeneration"] == 1
    assert patched["status"]["kopf"] == status["kopf"]  # kopf's bookkeeping is kept as written
    assert "notInTheSchema" not in patched["status"]  # everything else is explicit: unknown is pruned
    assert patched["spec"]["suspend"] is False  # the status subresource ignores spec
    assert patched["metadata"]["generation"] == 1

    with pytest.raises(ApiException) as error:
        api.patch_namespaced_custom_object_status(
            GROUP, VERSION, NAMESPACE, PLURAL, name, {"status": {"phase": "Exploded"}}
        )
    assert 'status.phase: Unsupported value: "Exploded"' in yaml.safe_load(error.value.body)["message"]

    spec_change = api.patch_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, PLURAL, name, {"spec": {"suspend": True}}
    )
    assert spec_change["metadata"]["generation"] == 2
    assert spec_change["status"]["observedGeneration"] == 1  # the operator has not caught up yet


# --- garbage collection ------------------------------------------------------------------------------


def test_owned_configmap_is_garbage_collected_after_the_cr_is_deleted(
    kube_cluster: KubeCluster, api: client.CustomObjectsApi
) -> None:
    core = client.CoreV1Api(kube_cluster.api_client)
    owner = create(api, pipeline("gc-owner", MINIMAL_SPEC))
    owner_ref = client.V1OwnerReference(
        api_version=f"{GROUP}/{VERSION}",
        kind="StreamingPipeline",
        name=owner["metadata"]["name"],
        uid=owner["metadata"]["uid"],
        controller=True,
        block_owner_deletion=True,
    )
    configmap = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="gc-owner-gold", owner_references=[owner_ref]), data={"k": "v"}
    )
    core.create_namespaced_config_map(NAMESPACE, configmap)
    bystander = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="gc-bystander"), data={"k": "v"})
    core.create_namespaced_config_map(NAMESPACE, bystander)

    api.delete_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, "gc-owner")
    started = time.monotonic()
    while time.monotonic() - started < 60:
        try:
            core.read_namespaced_config_map("gc-owner-gold", NAMESPACE)
        except ApiException as error:
            assert error.status == 404
            break
        time.sleep(0.2)
    else:
        pytest.fail("the owned ConfigMap still exists 60 s after its StreamingPipeline was deleted")
    print(f"garbage-collected in {time.monotonic() - started:.1f} s")
    assert core.read_namespaced_config_map("gc-bystander", NAMESPACE).data == {"k": "v"}
