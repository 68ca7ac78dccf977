"""Builders: one job's driver Pod, headless Service and ConfigMap."""

from __future__ import annotations

import pytest
import yaml
from k2_operator import naming as n
from k2_operator.builders import (
    JobInputs,
    build_config_map,
    build_driver_pod,
    build_driver_service,
    spark_conf,
    spark_submit_command,
)
from k2_operator.planner import plan_pipeline

from spark_jobs.job_config import JobConfig
from spark_jobs.jvm_options import JVM_OPTIONS
from tests.unit.operator.conftest import make_inputs

pytestmark = pytest.mark.unit


def conf_of(command: list[str]) -> dict[str, str]:
    pairs = [command[i + 1] for i, arg in enumerate(command) if arg == "--conf"]
    return dict(pair.split("=", 1) for pair in pairs)


def test_driver_runs_spark_submit_in_client_mode_with_the_planned_sizes(job_inputs: JobInputs) -> None:
    command = build_driver_pod(job_inputs)["spec"]["containers"][0]["command"]
    assert command[:5] == [
        "spark-submit",
        "--master",
        "k8s://https://kubernetes.default.svc",
        "--deploy-mode",
        "client",
    ]
    assert command[command.index("--driver-memory") + 1] == f"{job_inputs.plan.driver.heap_mib}m"
    conf = conf_of(command)
    plan = job_inputs.plan
    assert conf["spark.executor.instances"] == str(plan.executor_instances)
    assert conf["spark.executor.cores"] == str(plan.executor.cores)
    assert conf["spark.executor.memory"] == f"{plan.executor.heap_mib}m"
    assert conf["spark.executor.memoryOverhead"] == f"{plan.executor.overhead_mib}m"
    assert conf["spark.kubernetes.executor.request.cores"] == plan.executor.cpu_request
    assert conf["spark.kubernetes.namespace"] == "k2"
    assert conf["spark.kubernetes.container.image"] == "k2/streaming:0.1.0"
    assert conf["spark.driver.host"] == "prod-silver-binance-driver.k2.svc"
    assert conf["spark.kubernetes.driver.pod.name"] == "prod-silver-binance-driver"
    assert conf["spark.kubernetes.executor.podTemplateFile"] == "/etc/k2/executor-pod-template.yaml"
    assert command[-6:] == ["--job", "silver", "--exchange", "binance", "--config", "/etc/k2/job.yaml"]


def test_gold_has_no_exchange_argument() -> None:
    command = spark_submit_command(make_inputs("gold"))
    assert "--exchange" not in command
    assert command[-4:] == ["--job", "gold", "--config", "/etc/k2/job.yaml"]


def test_user_spark_conf_is_passed_but_cannot_override_operator_settings() -> None:
    inputs = make_inputs(spark_conf={"spark.sql.shuffle.partitions": "4", "spark.executor.instances": "99"})
    conf = spark_conf(inputs)
    assert conf["spark.sql.shuffle.partitions"] == "4"
    assert conf["spark.executor.instances"] == str(inputs.plan.executor_instances)


def test_shuffle_partitions_come_from_the_plan_not_the_local_defaults() -> None:
    for budget in (12, 16):
        plan = plan_pipeline(budget, 2048, 0.5)
        for job in ("silver-kraken", "gold"):
            conf = spark_conf(make_inputs(job, plan=plan[job], spark_conf={}))
            assert conf["spark.sql.shuffle.partitions"] == str(2 * plan[job].executor_cores_total)
    wider, narrower = plan_pipeline(16, 2048)["silver-kraken"], plan_pipeline(12, 2048)["silver-kraken"]
    assert wider.shuffle_partitions > narrower.shuffle_partitions


def test_driver_and_executors_get_the_jit_flag_and_keep_the_users_jvm_options() -> None:
    conf = spark_conf(make_inputs(spark_conf={"spark.executor.extraJavaOptions": "-XX:+UseG1GC"}))
    assert conf["spark.driver.extraJavaOptions"] == JVM_OPTIONS
    assert conf["spark.executor.extraJavaOptions"] == f"-XX:+UseG1GC {JVM_OPTIONS}"


def test_driver_pod_resources_follow_the_plan_and_the_request_ratio(job_inputs: JobInputs) -> None:
    resources = build_driver_pod(job_inputs)["spec"]["containers"][0]["resources"]
    assert resources == {
        "requests": {"cpu": "1000m", "memory": "2048Mi"},
        "limits": {"cpu": "1", "memory": "2048Mi"},
    }
    small = make_inputs(plan=plan_pipeline(14, 2048, 0.1)["silver-binance"])
    assert build_driver_pod(small)["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "100m"


def test_children_carry_labels_and_an_owner_reference_to_the_pipeline(job_inputs: JobInputs) -> None:
    for obj in (build_driver_pod(job_inputs), build_driver_service(job_inputs), build_config_map(job_inputs)):
        labels = obj["metadata"]["labels"]
        assert labels[n.LABEL_PIPELINE] == "prod"
        assert labels[n.LABEL_JOB] == "silver-binance"
        assert labels[n.LABEL_INSTANCE] == "prod"
        assert labels[n.LABEL_MANAGED_BY] == "k2-operator"
        assert labels[n.LABEL_NAME] == "k2-streaming"
        assert n.LABEL_COMPONENT in labels
        (owner,) = obj["metadata"]["ownerReferences"]
        assert owner == {
            "apiVersion": "k2.dev/v1alpha1",
            "kind": "StreamingPipeline",
            "name": "prod",
            "uid": "0000-1111",
            "controller": True,
            "blockOwnerDeletion": True,
        }


def test_driver_pod_has_a_restricted_security_context(job_inputs: JobInputs) -> None:
    spec = build_driver_pod(job_inputs)["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = spec["containers"][0]["securityContext"]
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"] == {"drop": ["ALL"]}
    assert spec["restartPolicy"] == "Never"
    assert spec["serviceAccountName"] == "prod-spark-driver"


def test_secrets_reach_the_job_only_as_env_from_secret_references(job_inputs: JobInputs) -> None:
    pod = build_driver_pod(job_inputs)
    env = pod["spec"]["containers"][0]["env"]
    secret_vars = [var for var in env if "secretKeyRef" in var.get("valueFrom", {})]
    assert secret_vars == [
        {
            "name": "K2_KAFKA_SASL_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "kafka-creds", "key": "password"}},
        }
    ]
    data = build_config_map(job_inputs)["data"]
    assert "password" not in data[n.JOB_CONFIG_KEY].lower()
    template = yaml.safe_load(data[n.EXECUTOR_TEMPLATE_KEY])
    assert template["spec"]["containers"][0]["env"] == secret_vars


def test_service_is_headless_and_selects_exactly_the_driver(job_inputs: JobInputs) -> None:
    service = build_driver_service(job_inputs)
    pod = build_driver_pod(job_inputs)
    assert service["spec"]["clusterIP"] == "None"
    assert (
        service["metadata"]["name"] + ".k2.svc"
        == conf_of(pod["spec"]["containers"][0]["command"])["spark.driver.host"]
    )
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    port_names = {port["name"] for port in service["spec"]["ports"]}
    assert {"driver-rpc", "blockmanager", n.METRICS_PORT_NAME} <= port_names


def test_config_map_holds_the_job_config_and_the_executor_template(job_inputs: JobInputs) -> None:
    data = build_config_map(job_inputs)["data"]
    assert JobConfig.from_dict(yaml.safe_load(data[n.JOB_CONFIG_KEY])) == job_inputs.job_config
    template = yaml.safe_load(data[n.EXECUTOR_TEMPLATE_KEY])
    assert template["metadata"]["labels"][n.LABEL_COMPONENT] == "executor"
    assert template["metadata"]["labels"][n.LABEL_JOB] == "silver-binance"
    assert template["spec"]["automountServiceAccountToken"] is False
    assert template["spec"]["containers"][0]["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert 'runpy.run_module("spark_jobs.jobs"' in data[n.DRIVER_MAIN_KEY]
    pod = build_driver_pod(job_inputs)
    assert pod["spec"]["volumes"][0]["configMap"]["name"] == build_config_map(job_inputs)["metadata"]["name"]


def test_names_fit_kubernetes_and_spark_limits() -> None:
    longest = "p" * n.MAX_PIPELINE_NAME
    inputs = make_inputs("silver-binance", pipeline=make_inputs().pipeline.__class__(longest, "k2", "u"))
    assert len(build_driver_service(inputs)["metadata"]["name"]) <= 63
    assert len(spark_conf(inputs)["spark.kubernetes.executor.podNamePrefix"]) <= 47
    with pytest.raises(ValueError):
        n.check_pipeline_name(longest + "x")


def test_spark_submit_adds_no_jars_the_job_image_has_them_on_the_classpath(job_inputs: JobInputs) -> None:
    """K2's jars sit in the image's pyspark jars folder (hack/images/streaming.Dockerfile), on every
    driver's and executor's classpath from the start; a jar option here would ship a second copy."""
    command = spark_submit_command(job_inputs)
    assert not {"--jars", "--packages", "--driver-class-path"} & set(command)
    classpath_keys = ("spark.jars", "spark.driver.extraClassPath", "spark.executor.extraClassPath")
    assert [arg for arg in command if arg.startswith(classpath_keys)] == []


def test_a_pod_template_reaches_the_driver_and_the_executor_template_and_the_operator_wins() -> None:
    from k2_operator.builders import (
        build_driver_disruption_budget,
        build_driver_pod,
        build_executor_pod_template,
    )
    from k2_operator.pipeline_spec import PodMetadataSpec, PodTemplateSpec

    template = PodTemplateSpec(
        labels={"team": "data", n.LABEL_COMPONENT: "sneaky"},
        driver=PodMetadataSpec(annotations={"d": "1"}),
        executor=PodMetadataSpec(labels={"role": "executor"}),
        node_selector={"pool": "spark"},
        tolerations=({"key": "spark", "operator": "Exists"},),
        affinity={"nodeAffinity": {}},
        priority_class_name="streaming",
        image_pull_secrets=({"name": "regcred"},),
        volumes=({"name": "scratch", "emptyDir": {}},),
        volume_mounts=({"name": "scratch", "mountPath": "/scratch"},),
    )
    inputs = make_inputs(pod_template=template)
    for pod, component in (
        (build_driver_pod(inputs), n.COMPONENT_DRIVER),
        (build_executor_pod_template(inputs), n.COMPONENT_EXECUTOR),
    ):
        labels = pod["metadata"]["labels"]
        assert labels["team"] == "data" and labels[n.LABEL_COMPONENT] == component
        spec = pod["spec"]
        assert spec["nodeSelector"] == {"pool": "spark"}
        assert spec["tolerations"] == [{"key": "spark", "operator": "Exists"}]
        assert spec["affinity"] == {"nodeAffinity": {}}
        assert spec["priorityClassName"] == "streaming"
        assert spec["imagePullSecrets"] == [{"name": "regcred"}]
        assert {"name": "scratch", "emptyDir": {}} in spec["volumes"]
        assert {"name": "scratch", "mountPath": "/scratch"} in spec["containers"][0]["volumeMounts"]
        assert spec["securityContext"]["runAsNonRoot"] is True
    driver = build_driver_pod(inputs)
    assert driver["metadata"]["annotations"]["d"] == "1"
    assert build_executor_pod_template(inputs)["metadata"]["labels"]["role"] == "executor"
    assert "annotations" not in build_executor_pod_template(inputs)["metadata"]
    budget = build_driver_disruption_budget(inputs)
    assert budget["spec"] == {"maxUnavailable": 0, "selector": {"matchLabels": inputs.labels}}
    assert budget["metadata"]["ownerReferences"][0]["uid"] == inputs.pipeline.uid


def test_the_driver_reads_its_rotating_service_account_token_itself(job_inputs: JobInputs) -> None:
    # With spark.kubernetes.authenticate.oauthTokenFile Spark reads the token once and its Kubernetes
    # client never refreshes a token given that way; without it the client configures itself from the
    # mounted service account and re-reads the token file (tests/operator/test_operator_spark_submit.py
    # rotates it under a running driver).
    from k2_operator.builders import build_driver_pod, spark_conf

    conf = spark_conf(job_inputs)
    assert not [key for key in conf if "oauthToken" in key]
    assert build_driver_pod(job_inputs)["spec"]["automountServiceAccountToken"] is True
