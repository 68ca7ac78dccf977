"""Builders of one job's children: the driver Pod (spark-submit, client mode), its headless Service and
its ConfigMap (job config + executor pod template + the driver's main file).

Pure functions from :class:`JobInputs` to plain dicts, the shape the Kubernetes API takes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from k2_operator import naming as n
from k2_operator.pipeline_spec import PodTemplateSpec, VolumeSpec
from k2_operator.planner import JobPlan
from k2_shared.job_config import JobConfig, dump_yaml
from k2_shared.jvm_options import with_jvm_options

IN_CLUSTER_MASTER = "k8s://https://kubernetes.default.svc"
SPARK_SUBMIT = "spark-submit"
DRIVER_CONTAINER = "driver"
EXECUTOR_CONTAINER = "executor"
TERMINATION_GRACE_SECONDS = 30

#: spark-submit needs a file; the job entrypoint is a module (`python -m spark_jobs.jobs`).
DRIVER_MAIN = '''"""Runs the K2 job entrypoint under spark-submit (which needs a file, not a module)."""
import runpy

runpy.run_module("spark_jobs.jobs", run_name="__main__", alter_sys=True)
'''


@dataclass(frozen=True)
class PipelineRef:
    """The owning StreamingPipeline."""

    name: str
    namespace: str
    uid: str

    def owner_reference(self) -> dict[str, Any]:
        return {
            "apiVersion": n.API_VERSION,
            "kind": n.KIND,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


@dataclass(frozen=True)
class SecretEnv:
    """One environment variable taken from a Secret key (the only way credentials reach a job)."""

    env: str
    secret: str
    key: str

    def as_env_var(self) -> dict[str, Any]:
        return {"name": self.env, "valueFrom": {"secretKeyRef": {"name": self.secret, "key": self.key}}}


@dataclass(frozen=True)
class JobInputs:
    """Everything one job's children depend on (and so everything its spec hash covers)."""

    pipeline: PipelineRef
    job: str
    plan: JobPlan
    job_config: JobConfig
    image: str
    image_pull_policy: str
    secret_env: tuple[SecretEnv, ...] = ()
    #: Secrets whose every key becomes an env var (object-storage credentials such as AWS_ACCESS_KEY_ID).
    env_from_secrets: tuple[str, ...] = ()
    spark_conf: dict[str, str] = field(default_factory=dict)
    #: The PVC holding file:// tables and checkpoints, mounted in the driver and (template) executors.
    volume: VolumeSpec | None = None
    #: The user's scheduling options and metadata for drivers and executors.
    pod_template: PodTemplateSpec | None = None

    @property
    def labels(self) -> dict[str, str]:
        return n.job_labels(self.pipeline.name, self.job, n.COMPONENT_DRIVER)

    @property
    def pod_name(self) -> str:
        return n.driver_pod_name(self.pipeline.name, self.job)


def metadata(inputs: JobInputs, name: str, component: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": inputs.pipeline.namespace,
        "labels": n.job_labels(inputs.pipeline.name, inputs.job, component),
        "ownerReferences": [inputs.pipeline.owner_reference()],
    }


def pod_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": n.RUN_AS_USER,
        "runAsGroup": n.RUN_AS_USER,
        "fsGroup": n.RUN_AS_USER,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


STORAGE_VOLUME = "k2-storage"


def storage_volumes(volume: VolumeSpec | None) -> list[dict[str, Any]]:
    """The pipeline's PVC as a pod volume (none for object storage)."""
    if volume is None:
        return []
    return [{"name": STORAGE_VOLUME, "persistentVolumeClaim": {"claimName": volume.claim_name}}]


def storage_mounts(volume: VolumeSpec | None) -> list[dict[str, Any]]:
    """The PVC at the same path in every pod, so a file:// URI means the same files everywhere."""
    if volume is None:
        return []
    return [{"name": STORAGE_VOLUME, "mountPath": volume.mount_path}]


def spark_conf(inputs: JobInputs) -> dict[str, str]:
    """The Spark settings of one job's spark-submit. The plan's shuffle partitions come first (a user
    may override them in sparkConf), then the user's extra settings, then the operator's own (the CRD
    denylists them anyway), which always win."""
    pipeline, job, plan = inputs.pipeline, inputs.job, inputs.plan
    owned = {
        "spark.kubernetes.namespace": pipeline.namespace,
        "spark.kubernetes.container.image": inputs.image,
        "spark.kubernetes.container.image.pullPolicy": inputs.image_pull_policy,
        "spark.kubernetes.driver.pod.name": inputs.pod_name,
        "spark.kubernetes.executor.podNamePrefix": n.executor_pod_name_prefix(pipeline.name, job),
        "spark.kubernetes.executor.podTemplateFile": f"{n.CONFIG_MOUNT}/{n.EXECUTOR_TEMPLATE_KEY}",
        "spark.kubernetes.executor.podTemplateContainerName": EXECUTOR_CONTAINER,
        "spark.kubernetes.authenticate.caCertFile": f"{n.SERVICE_ACCOUNT_DIR}/ca.crt",
        # No oauthTokenFile: Spark would read the token once and hand it to its Kubernetes client as a
        # fixed token, which the client never refreshes, and a bound service account token expires.
        # Without it the client (fabric8) configures itself from the pod's mounted service account and
        # re-reads the projected token file every minute and on a 401, so a rotated token is picked up.
        "spark.executor.instances": str(plan.executor_instances),
        "spark.executor.cores": str(plan.executor.cores),
        "spark.executor.memory": f"{plan.executor.heap_mib}m",
        "spark.executor.memoryOverhead": f"{plan.executor.overhead_mib}m",
        "spark.kubernetes.executor.request.cores": plan.executor.cpu_request,
        "spark.kubernetes.executor.limit.cores": plan.executor.cpu_limit,
        "spark.driver.cores": str(plan.driver.cores),
        "spark.driver.host": n.driver_host(pipeline.name, job, pipeline.namespace),
        "spark.driver.bindAddress": "0.0.0.0",
        "spark.driver.port": str(n.DRIVER_RPC_PORT),
        "spark.driver.blockManager.port": str(n.BLOCK_MANAGER_PORT),
        "spark.ui.port": str(n.SPARK_UI_PORT),
        **with_jvm_options(inputs.spark_conf),
    }
    planned = {"spark.sql.shuffle.partitions": str(plan.shuffle_partitions)}
    return {**planned, **inputs.spark_conf, **owned}


def spark_submit_command(inputs: JobInputs, master: str = IN_CLUSTER_MASTER) -> list[str]:
    """`spark-submit` in client mode: the driver runs in this pod, Spark creates the executors."""
    config = inputs.job_config
    command = [
        SPARK_SUBMIT,
        "--master",
        master,
        "--deploy-mode",
        "client",
        "--name",
        f"k2-{inputs.pipeline.name}-{inputs.job}",
        # Client mode: the driver JVM starts here, so its heap is a launcher flag, not a --conf.
        "--driver-memory",
        f"{inputs.plan.driver.heap_mib}m",
    ]
    for key, value in spark_conf(inputs).items():
        command += ["--conf", f"{key}={value}"]
    command += [f"{n.CONFIG_MOUNT}/{n.DRIVER_MAIN_KEY}", "--job", config.layer]
    if config.exchange is not None:
        command += ["--exchange", config.exchange]
    command += ["--config", f"{n.CONFIG_MOUNT}/{n.JOB_CONFIG_KEY}"]
    return command


def driver_ports() -> list[dict[str, Any]]:
    return [
        {"name": "driver-rpc", "containerPort": n.DRIVER_RPC_PORT, "protocol": "TCP"},
        {"name": "blockmanager", "containerPort": n.BLOCK_MANAGER_PORT, "protocol": "TCP"},
        {"name": "spark-ui", "containerPort": n.SPARK_UI_PORT, "protocol": "TCP"},
        {"name": n.METRICS_PORT_NAME, "containerPort": n.DRIVER_METRICS_PORT, "protocol": "TCP"},
    ]


def job_env(inputs: JobInputs) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": "K2_PIPELINE", "value": inputs.pipeline.name},
        {"name": "K2_JOB", "value": inputs.job},
        {"name": "PYTHONUNBUFFERED", "value": "1"},
        {"name": "HOME", "value": "/tmp"},
    ]
    return env + [secret.as_env_var() for secret in inputs.secret_env]


def progress_env() -> list[dict[str, Any]]:
    """What the driver needs to write its query's progress on its own pod (spark_jobs.jobs.pod_progress):
    its pod's name and namespace (downward API), the annotation and the interval."""
    return [
        {"name": "K2_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "K2_POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "K2_PROGRESS_ANNOTATION", "value": n.ANNOTATION_LAST_PROGRESS},
        {"name": "K2_PROGRESS_REPORT_SECONDS", "value": str(n.PROGRESS_REPORT_SECONDS)},
    ]


def readiness_probe() -> dict[str, Any]:
    """Ready once the job serves its metrics: the entrypoint opens that port after the SparkSession (and
    with it the executor requests) is up, right before it starts the query."""
    return {
        "httpGet": {"path": "/metrics", "port": n.METRICS_PORT_NAME},
        "initialDelaySeconds": 5,
        "periodSeconds": 10,
        "timeoutSeconds": 5,
        "failureThreshold": 3,
    }


def env_from(inputs: JobInputs) -> list[dict[str, Any]]:
    return [{"secretRef": {"name": name}} for name in inputs.env_from_secrets]


def scheduling(template: PodTemplateSpec | None) -> dict[str, Any]:
    """The pod spec fields a podTemplate sets (only those it sets)."""
    if template is None:
        return {}
    fields: dict[str, Any] = {
        "nodeSelector": dict(template.node_selector),
        "tolerations": [dict(t) for t in template.tolerations],
        "affinity": dict(template.affinity),
        "priorityClassName": template.priority_class_name,
        "imagePullSecrets": [dict(s) for s in template.image_pull_secrets],
    }
    return {key: value for key, value in fields.items() if value}


def extra_volumes(template: PodTemplateSpec | None) -> list[dict[str, Any]]:
    return [dict(v) for v in template.volumes] if template else []


def extra_mounts(template: PodTemplateSpec | None) -> list[dict[str, Any]]:
    return [dict(m) for m in template.volume_mounts] if template else []


def pod_metadata(base: dict[str, Any], template: PodTemplateSpec | None, component: str) -> dict[str, Any]:
    """``base`` with the podTemplate's labels and annotations for ``component`` under it: the
    operator's own labels win (the CRD refuses its prefixes anyway)."""
    if template is None:
        return base
    labels = {**template.pod_labels(component), **base.get("labels", {})}
    annotations = {**template.pod_annotations(component), **base.get("annotations", {})}
    return {**base, "labels": labels, **({"annotations": annotations} if annotations else {})}


def build_driver_pod(inputs: JobInputs) -> dict[str, Any]:
    plan = inputs.plan.driver
    template = inputs.pod_template
    meta = pod_metadata(metadata(inputs, inputs.pod_name, n.COMPONENT_DRIVER), template, n.COMPONENT_DRIVER)
    # The operator's annotation wins over a podTemplate's.
    meta["annotations"] = {
        **meta.get("annotations", {}),
        n.ANNOTATION_PROGRESS_INTERVAL: str(n.PROGRESS_REPORT_SECONDS),
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            **scheduling(template),
            # The operator owns restarts (backoff, counting, only from checkpoints): never the kubelet.
            "restartPolicy": "Never",
            "serviceAccountName": n.driver_service_account_name(inputs.pipeline.name),
            "automountServiceAccountToken": True,
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
            "securityContext": pod_security_context(),
            "containers": [
                {
                    "name": DRIVER_CONTAINER,
                    "image": inputs.image,
                    "imagePullPolicy": inputs.image_pull_policy,
                    "command": spark_submit_command(inputs),
                    "env": job_env(inputs) + progress_env(),
                    "envFrom": env_from(inputs),
                    "ports": driver_ports(),
                    "readinessProbe": readiness_probe(),
                    "resources": {
                        "requests": {"cpu": plan.cpu_request, "memory": plan.memory},
                        "limits": {"cpu": plan.cpu_limit, "memory": plan.memory},
                    },
                    "securityContext": container_security_context(),
                    "volumeMounts": [
                        {"name": "job-config", "mountPath": n.CONFIG_MOUNT, "readOnly": True},
                        {"name": "tmp", "mountPath": "/tmp"},
                        *storage_mounts(inputs.volume),
                        *extra_mounts(template),
                    ],
                }
            ],
            "volumes": [
                {
                    "name": "job-config",
                    "configMap": {"name": n.config_map_name(inputs.pipeline.name, inputs.job)},
                },
                {"name": "tmp", "emptyDir": {}},
                *storage_volumes(inputs.volume),
                *extra_volumes(template),
            ],
        },
    }


def build_driver_service(inputs: JobInputs) -> dict[str, Any]:
    """Headless: executors resolve the driver's pod IP through it (`spark.driver.host`)."""
    name = n.driver_service_name(inputs.pipeline.name, inputs.job)
    ports = [{"name": p["name"], "port": p["containerPort"], "targetPort": p["name"]} for p in driver_ports()]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(inputs, name, n.COMPONENT_DRIVER),
        "spec": {
            "clusterIP": "None",
            "selector": inputs.labels,
            "ports": ports,
            # Executors connect while the driver starts up; there is no readiness to wait for.
            "publishNotReadyAddresses": True,
        },
    }


def build_executor_pod_template(inputs: JobInputs) -> dict[str, Any]:
    """The template Spark starts each executor from; Spark fills in image, resources and owner, and
    keeps the template's scheduling fields, labels, annotations, volumes and the container's mounts."""
    template = inputs.pod_template
    mounts = storage_mounts(inputs.volume) + extra_mounts(template)
    volumes = storage_volumes(inputs.volume) + extra_volumes(template)
    labels = {"labels": n.job_labels(inputs.pipeline.name, inputs.job, n.COMPONENT_EXECUTOR)}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": pod_metadata(labels, template, n.COMPONENT_EXECUTOR),
        "spec": {
            **scheduling(template),
            # Executors never call the API server.
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "securityContext": pod_security_context(),
            "containers": [
                {
                    "name": EXECUTOR_CONTAINER,
                    "env": [secret.as_env_var() for secret in inputs.secret_env],
                    "envFrom": env_from(inputs),
                    "securityContext": container_security_context(),
                    # Spark keeps the template container's mounts and the pod's volumes.
                    **({"volumeMounts": mounts} if mounts else {}),
                }
            ],
            **({"volumes": volumes} if volumes else {}),
        },
    }


def build_config_map(inputs: JobInputs) -> dict[str, Any]:
    name = n.config_map_name(inputs.pipeline.name, inputs.job)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(inputs, name, n.COMPONENT_CONFIG),
        "data": {
            n.JOB_CONFIG_KEY: inputs.job_config.to_yaml(),
            n.EXECUTOR_TEMPLATE_KEY: dump_yaml(build_executor_pod_template(inputs)),
            n.DRIVER_MAIN_KEY: DRIVER_MAIN,
        },
    }


def build_driver_disruption_budget(inputs: JobInputs) -> dict[str, Any]:
    """maxUnavailable 0 over the one driver pod: a voluntary eviction (node drain) waits for it."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(inputs, n.driver_pod_name(inputs.pipeline.name, inputs.job), n.COMPONENT_DRIVER),
        "spec": {"maxUnavailable": 0, "selector": {"matchLabels": inputs.labels}},
    }
