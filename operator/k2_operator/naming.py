"""Names, labels, annotations and ports of the objects the operator owns: one place to read them."""

from __future__ import annotations

import re
from typing import Final

GROUP: Final = "k2.dev"
VERSION: Final = "v1alpha1"
KIND: Final = "StreamingPipeline"
PLURAL: Final = "streamingpipelines"
API_VERSION: Final = f"{GROUP}/{VERSION}"

APP_NAME: Final = "k2-streaming"
MANAGER: Final = "k2-operator"

LABEL_NAME: Final = "app.kubernetes.io/name"
LABEL_INSTANCE: Final = "app.kubernetes.io/instance"
LABEL_COMPONENT: Final = "app.kubernetes.io/component"
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
LABEL_PIPELINE: Final = f"{GROUP}/pipeline"
LABEL_JOB: Final = f"{GROUP}/job"
LABEL_EXCHANGE: Final = f"{GROUP}/exchange"
ANNOTATION_SPEC_HASH: Final = f"{GROUP}/spec-hash"
#: Digest of a child as rendered (ConfigMaps and Services are rewritten when it differs; a driver pod is
#: replaced only when its spec hash differs, so a rendering change never restarts a driver by itself).
ANNOTATION_RENDER_HASH: Final = f"{GROUP}/render-hash"
#: Written by the driver on its own pod: when its query last reported progress (RFC 3339).
ANNOTATION_LAST_PROGRESS: Final = f"{GROUP}/last-progress"
#: Set by the operator on driver pods that report progress: the report interval in seconds (drivers
#: created before progress reporting existed lack it, and are never judged Stalled).
ANNOTATION_PROGRESS_INTERVAL: Final = f"{GROUP}/progress-report-seconds"
#: How often a driver writes ANNOTATION_LAST_PROGRESS (at most; only when its query progressed).
PROGRESS_REPORT_SECONDS: Final = 30

COMPONENT_DRIVER: Final = "driver"
COMPONENT_QUALITY: Final = "quality"  # the per-pipeline data-quality process (k2 quality)
COMPONENT_EXECUTOR: Final = "executor"
COMPONENT_CONFIG: Final = "job-config"
COMPONENT_RBAC: Final = "driver-rbac"
COMPONENT_FEED: Final = "feed"

#: Ports of a driver pod. Every driver has its own pod IP, so all five use the same numbers; the
#: PodMonitor scrapes the port named "metrics".
DRIVER_RPC_PORT: Final = 7078
BLOCK_MANAGER_PORT: Final = 7079
SPARK_UI_PORT: Final = 4040
DRIVER_METRICS_PORT: Final = 8000
METRICS_PORT_NAME: Final = "metrics"
#: A feed pod serves /metrics and its liveness /healthz on one port, also named "metrics".
FEED_METRICS_PORT: Final = 8000

#: Where a driver pod mounts its ConfigMap, and the keys in it.
CONFIG_MOUNT: Final = "/etc/k2"
JOB_CONFIG_KEY: Final = "job.yaml"
EXECUTOR_TEMPLATE_KEY: Final = "executor-pod-template.yaml"
DRIVER_MAIN_KEY: Final = "driver_main.py"
SERVICE_ACCOUNT_DIR: Final = "/var/run/secrets/kubernetes.io/serviceaccount"

#: Non-root user of the K2 image (Spark's images use the same uid).
RUN_AS_USER: Final = 185

#: Spark caps executor pod name prefixes at 47 characters; `<pipeline>-<longest job>` must fit.
MAX_PIPELINE_NAME: Final = 32


#: What the CRD's CEL rule on metadata.name accepts: <name>-<job>-driver is a Service name (a DNS-1035
#: label: lowercase letters, digits and '-', a letter first, no dots).
PIPELINE_NAME_PATTERN: Final = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def check_pipeline_name(pipeline: str) -> None:
    """The CRD refuses these at apply time; checked here for paths that do not go through it."""
    if len(pipeline) > MAX_PIPELINE_NAME:
        raise ValueError(f"pipeline name {pipeline!r} is longer than {MAX_PIPELINE_NAME} characters")
    if not PIPELINE_NAME_PATTERN.match(pipeline):
        raise ValueError(
            f"pipeline name {pipeline!r} must start with a letter and hold only lowercase letters, "
            "digits and '-'"
        )


def driver_pod_name(pipeline: str, job: str) -> str:
    """Fixed per job: at most one driver per job can exist, so two drivers never share a checkpoint."""
    return f"{pipeline}-{job}-driver"


def driver_service_name(pipeline: str, job: str) -> str:
    return f"{pipeline}-{job}-driver"


def config_map_name(pipeline: str, job: str) -> str:
    return f"{pipeline}-{job}-config"


def driver_service_account_name(pipeline: str) -> str:
    return f"{pipeline}-spark-driver"


def feed_deployment_name(pipeline: str, exchange: str) -> str:
    return f"{pipeline}-feed-{exchange}"


def feed_labels(pipeline: str, exchange: str) -> dict[str, str]:
    return {**pipeline_labels(pipeline, COMPONENT_FEED), LABEL_EXCHANGE: exchange}


def feed_selector(pipeline: str) -> str:
    """Label selector of one pipeline's feed Deployments (and their pods)."""
    return f"{LABEL_PIPELINE}={pipeline},{LABEL_COMPONENT}={COMPONENT_FEED},{LABEL_MANAGED_BY}={MANAGER}"


def executor_pod_name_prefix(pipeline: str, job: str) -> str:
    return f"{pipeline}-{job}"


def executor_selector(pipeline: str) -> str:
    """Label selector of one pipeline's executor pods (Spark keeps the template's labels)."""
    return f"{LABEL_PIPELINE}={pipeline},{LABEL_COMPONENT}={COMPONENT_EXECUTOR},{LABEL_MANAGED_BY}={MANAGER}"


def driver_host(pipeline: str, job: str, namespace: str) -> str:
    """DNS name executors use to reach the driver (the headless Service)."""
    return f"{driver_service_name(pipeline, job)}.{namespace}.svc"


#: The quality process serves k2_quality_check_* on its "metrics" port.
QUALITY_METRICS_PORT: Final = 8000


def quality_deployment_name(pipeline: str) -> str:
    return f"{pipeline}-quality"


def quality_service_account_name(pipeline: str) -> str:
    return f"{pipeline}-quality"


def quality_report_name(pipeline: str) -> str:
    """The ConfigMap the quality process writes its run summary to (status.quality's source)."""
    return f"{pipeline}-quality-report"


def quality_selector(pipeline: str) -> str:
    return f"{LABEL_PIPELINE}={pipeline},{LABEL_COMPONENT}={COMPONENT_QUALITY},{LABEL_MANAGED_BY}={MANAGER}"


def pipeline_labels(pipeline: str, component: str) -> dict[str, str]:
    return {
        LABEL_NAME: APP_NAME,
        LABEL_INSTANCE: pipeline,
        LABEL_COMPONENT: component,
        LABEL_MANAGED_BY: MANAGER,
        LABEL_PIPELINE: pipeline,
    }


def job_labels(pipeline: str, job: str, component: str) -> dict[str, str]:
    return {**pipeline_labels(pipeline, component), LABEL_JOB: job}


def driver_selector(pipeline: str) -> str:
    """Label selector of one pipeline's driver pods (executors carry the same pipeline label)."""
    return f"{LABEL_PIPELINE}={pipeline},{LABEL_COMPONENT}={COMPONENT_DRIVER},{LABEL_MANAGED_BY}={MANAGER}"


def job_pods_selector(pipeline: str) -> str:
    """Label selector of one pipeline's driver and executor pods (one list for both)."""
    return (
        f"{LABEL_PIPELINE}={pipeline},{LABEL_COMPONENT} in ({COMPONENT_DRIVER},{COMPONENT_EXECUTOR}),"
        f"{LABEL_MANAGED_BY}={MANAGER}"
    )


def children_selector(pipeline: str) -> str:
    return f"{LABEL_PIPELINE}={pipeline},{LABEL_MANAGED_BY}={MANAGER}"
