"""The typed spec of a StreamingPipeline: what the operator's pure logic takes.

`PipelineSpec.from_cr_spec(cr["spec"])` parses a CR's spec (camelCase, as the API server returns it),
applies the same defaults as the CRD in crds/streamingpipelines.k2.dev.yaml and checks what the
operator relies on. The CRD stays the single source of the schema; tests/unit/test_pipeline_spec.py
walks its defaults and its Spark conf denylist and fails when this module disagrees.

The API server already rejected invalid specs; the checks here exist for the code paths that do not go
through it (a YAML file parsed directly, a unit test) and raise `PipelineSpecError` naming the field.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeVar

from k2_shared.contracts import EXCHANGES, JOB_NAMES, JOBS, raw_topic
from k2_shared.job_config import DEFAULT_MAX_TRADE_AGE, REPLAY_MAX_TRADE_AGE, JobConfig

log = logging.getLogger(__name__)

#: Spark settings the operator sets itself for every job; `spec.sparkConf` may not contain them.
#: The CRD has one sparkConf CEL rule per key, in this order (tests check the drift).
SPARK_CONF_DENYLIST: Final[tuple[str, ...]] = (
    "spark.master",
    "spark.submit.deployMode",
    "spark.app.name",
    "spark.jars",
    "spark.jars.packages",
    "spark.driver.host",
    "spark.driver.port",
    "spark.driver.bindAddress",
    "spark.blockManager.port",
    "spark.driver.cores",
    "spark.driver.memory",
    "spark.executor.instances",
    "spark.executor.cores",
    "spark.executor.memory",
    "spark.dynamicAllocation.enabled",
    "spark.kubernetes.namespace",
    "spark.kubernetes.container.image",
    "spark.kubernetes.container.image.pullPolicy",
    "spark.kubernetes.driver.pod.name",
    "spark.kubernetes.executor.podTemplateFile",
    "spark.kubernetes.authenticate.driver.serviceAccountName",
    "spark.kubernetes.driver.request.cores",
    "spark.kubernetes.executor.request.cores",
    "spark.sql.streaming.checkpointLocation",
    "spark.driver.blockManager.port",
    "spark.ui.port",
    "spark.executor.memoryOverhead",
    "spark.kubernetes.executor.limit.cores",
    "spark.kubernetes.executor.podNamePrefix",
    "spark.kubernetes.executor.podTemplateContainerName",
    "spark.kubernetes.driver.podTemplateFile",
    "spark.kubernetes.driver.master",
)

#: Key prefixes `spec.sparkConf` may not use, each with the reason its CRD rule gives: the drivers'
#: and executors' identity and credentials, volumes (hostPath among them) and Secret mounts, and the
#: labels the operator selects its pods by. The CRD has one sparkConf CEL rule per prefix, after the
#: per-key ones, in this order (tests check the drift).
SPARK_CONF_DENIED_PREFIXES: Final[tuple[tuple[str, str], ...]] = (
    ("spark.kubernetes.authenticate.", "the drivers' identity and API credentials are the operator's"),
    (
        "spark.kubernetes.driver.volumes.",
        "volumes go in spec.podTemplate.volumes (hostPath and Secret volumes are not allowed)",
    ),
    (
        "spark.kubernetes.executor.volumes.",
        "volumes go in spec.podTemplate.volumes (hostPath and Secret volumes are not allowed)",
    ),
    ("spark.kubernetes.driver.secrets.", "Secrets reach jobs only through the spec's secret references"),
    ("spark.kubernetes.executor.secrets.", "Secrets reach jobs only through the spec's secret references"),
    ("spark.kubernetes.driver.secretKeyRef.", "Secrets reach jobs only through the spec's secret references"),
    (
        "spark.kubernetes.executor.secretKeyRef.",
        "Secrets reach jobs only through the spec's secret references",
    ),
    ("spark.kubernetes.driver.label.", "driver labels go in spec.podTemplate (the operator owns its own)"),
    (
        "spark.kubernetes.executor.label.app.kubernetes.io/",
        "the operator selects executors by its app.kubernetes.io/ labels",
    ),
    ("spark.kubernetes.executor.label.k2.dev/", "the operator selects executors by its k2.dev/ labels"),
)


def spark_conf_refusal(key: str) -> str | None:
    """Why `spec.sparkConf` may not set ``key`` (the CRD's message), or None when it may."""
    if key in SPARK_CONF_DENYLIST:
        return f"{key} is set by the operator"
    for prefix, reason in SPARK_CONF_DENIED_PREFIXES:
        if key.startswith(prefix):
            return f"{prefix}* keys are not allowed in sparkConf: {reason}"
    return None


PullPolicy = Literal["Always", "IfNotPresent", "Never"]
RestartType = Literal["Never", "OnFailure", "Always"]
StartingOffsets = Literal["earliest", "latest"]

MIN_TOTAL_CORES: Final = 12
MAX_TOTAL_CORES: Final = 16


class PipelineSpecError(ValueError):
    """A spec the CRD would reject (or did not check); the message starts with the field path."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


# --- the model ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CredentialsSecretRef:
    """A Secret holding a username and a password (SASL for Kafka, basic auth for the registry)."""

    name: str
    username_key: str = "username"
    password_key: str = "password"


@dataclass(frozen=True)
class SecretRef:
    """A Secret whose keys all become environment variables (object-storage credentials)."""

    name: str


@dataclass(frozen=True)
class KafkaSpec:
    bootstrap_servers: str
    credentials_secret_ref: CredentialsSecretRef | None = None
    starting_offsets: StartingOffsets = "earliest"
    max_offsets_per_trigger: int = 500_000


@dataclass(frozen=True)
class SchemaRegistrySpec:
    url: str
    credentials_secret_ref: CredentialsSecretRef | None = None


@dataclass(frozen=True)
class VolumeSpec:
    """A PersistentVolumeClaim mounted at the same path in every driver, executor and feed pod."""

    claim_name: str
    mount_path: str

    def holds(self, uri: str) -> bool:
        """True when a file:// URI lies on this volume."""
        path = uri.removeprefix(FILE_SCHEME)
        return path == self.mount_path or path.startswith(self.mount_path + "/")


FILE_SCHEME: Final = "file://"


@dataclass(frozen=True)
class StorageSpec:
    tables_uri: str
    checkpoints_uri: str
    secret_ref: SecretRef | None = None
    #: Hadoop keys without the `spark.hadoop.` prefix (read-only by convention).
    hadoop_conf: dict[str, str] = field(default_factory=dict)
    #: Required for file:// URIs: drivers, executors and feeds are separate pods.
    volume: VolumeSpec | None = None


FeedSource = Literal["live", "replay", "synthetic"]


@dataclass(frozen=True)
class FeedSpec:
    """The trade feed the operator runs for one exchange (a Deployment, outside the core budget).
    Defaults live here, not in the CRD: the CRD has no defaults inside lists."""

    source: FeedSource
    #: synthetic: trades per second; replay: pace multiplier; 0 = flat out; None = the source's default.
    rate: float | None = None
    stale_after_seconds: int = 120
    cpu: str = "500m"
    memory: str = "512Mi"

    @property
    def effective_rate(self) -> float:
        if self.rate is not None:
            return self.rate
        return 10.0 if self.source == "synthetic" else 1.0


@dataclass(frozen=True)
class ExchangeSpec:
    name: str
    symbols: tuple[str, ...]
    #: Raw Kafka topic; the CRD leaves it unset and this model fills in contracts.raw_topic(name).
    topic: str = ""
    feed: FeedSpec | None = None

    def __post_init__(self) -> None:
        if not self.topic:
            object.__setattr__(self, "topic", raw_topic(self.name))


@dataclass(frozen=True)
class TriggerSpec:
    """Spark processing-time intervals ("10 seconds"), the format JobConfig.trigger_interval uses."""

    bronze: str = "2 seconds"
    silver: str = "2 seconds"
    gold: str = "2 seconds"
    gold_watermark: str = "10 minutes"

    def interval(self, layer: str) -> str:
        return str(getattr(self, layer))


@dataclass(frozen=True)
class ResourceSpec:
    total_cores: int = 14
    memory_per_core: str = "2Gi"
    #: Kubernetes CPU request = Spark cores x this ratio.
    cpu_request_ratio: float = 1.0


@dataclass(frozen=True)
class QualitySpec:
    """The data-quality process (k2 quality), outside the core budget."""

    enabled: bool = True
    interval_seconds: int = 300
    stale_after_seconds: int = 300
    dlq_warning: float = 0.01
    dlq_critical: float = 0.05
    cpu: str = "1"
    memory: str = "2Gi"


@dataclass(frozen=True)
class RestartPolicySpec:
    #: Streaming jobs run forever: a driver that exits, even cleanly, is restarted.
    type: RestartType = "Always"
    max_retries: int = 5
    backoff_initial_seconds: int = 10
    backoff_max_seconds: int = 300
    reset_after_seconds: int = 600

    def backoff_seconds(self, restarts: int) -> int:
        """Delay before restart number `restarts + 1`: initial x 2^restarts, capped at the maximum."""
        return int(min(self.backoff_initial_seconds * 2 ** max(restarts, 0), self.backoff_max_seconds))


@dataclass(frozen=True)
class JobSpec:
    """Per-job settings (`spec.jobs.<job>`)."""

    #: Changing it restarts this job's driver now (and clears its Failed phase).
    restart_nonce: int | None = None


@dataclass(frozen=True)
class PodMetadataSpec:
    """Extra labels and annotations of one kind of pod (drivers or executors)."""

    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


#: Volume sources `spec.podTemplate.volumes` may use (no hostPath, no Secret volumes).
VOLUME_SOURCES: Final = ("persistentVolumeClaim", "configMap", "emptyDir")
#: Volume names and mount paths the operator's own pods use.
RESERVED_VOLUME_NAMES: Final = ("job-config", "tmp", "k2-storage")
RESERVED_MOUNT_PATHS: Final = ("/etc/k2", "/tmp", "/var/run/secrets/kubernetes.io/serviceaccount")
#: Label key prefixes the operator selects its pods by: user labels may not use them.
RESERVED_LABEL_PREFIXES: Final = ("app.kubernetes.io/", "k2.dev/")


@dataclass(frozen=True)
class PodTemplateSpec:
    """Scheduling options and metadata for the drivers and (through Spark's executor pod template)
    their executors. Lists and objects are Kubernetes' own shapes, passed through as the CRD admits
    them; the operator's own settings (security context, its labels, its volumes) always win."""

    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    driver: PodMetadataSpec = field(default_factory=PodMetadataSpec)
    executor: PodMetadataSpec = field(default_factory=PodMetadataSpec)
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: tuple[dict[str, Any], ...] = ()
    affinity: dict[str, Any] = field(default_factory=dict)
    priority_class_name: str = ""
    image_pull_secrets: tuple[dict[str, Any], ...] = ()
    volumes: tuple[dict[str, Any], ...] = ()
    volume_mounts: tuple[dict[str, Any], ...] = ()

    def pod_labels(self, component: str) -> dict[str, str]:
        return {**self.labels, **self._of(component).labels}

    def pod_annotations(self, component: str) -> dict[str, str]:
        return {**self.annotations, **self._of(component).annotations}

    def _of(self, component: str) -> PodMetadataSpec:
        return self.driver if component == "driver" else self.executor


@dataclass(frozen=True)
class PipelineSpec:
    image: str
    kafka: KafkaSpec
    schema_registry: SchemaRegistrySpec
    storage: StorageSpec
    exchanges: tuple[ExchangeSpec, ...]
    image_pull_policy: PullPolicy = "IfNotPresent"
    suspend: bool = False
    driver_start_timeout_seconds: int = 300
    #: A Running driver whose query reported no progress for this long is Stalled.
    progress_timeout_seconds: int = 600
    #: A Lost driver (NotReady node, phase Unknown, stuck Terminating) is replaced after this long.
    driver_lost_grace_seconds: int = 300
    #: Changing it restarts every job's driver now (and clears Failed).
    restart_nonce: int | None = None
    jobs: dict[str, JobSpec] = field(default_factory=dict)
    triggers: TriggerSpec = field(default_factory=TriggerSpec)
    resources: ResourceSpec = field(default_factory=ResourceSpec)
    restart_policy: RestartPolicySpec = field(default_factory=RestartPolicySpec)
    quality: QualitySpec = field(default_factory=QualitySpec)
    #: Extra Spark settings for every job (read-only by convention); never a SPARK_CONF_DENYLIST key.
    spark_conf: dict[str, str] = field(default_factory=dict)
    #: Scheduling options and metadata for drivers and executors (absent: none).
    pod_template: PodTemplateSpec | None = None
    #: A PodDisruptionBudget per driver (maxUnavailable 0): voluntary evictions (a node drain) wait.
    #: None (absent) means no: the CRD has no default for it, see its description.
    driver_pod_disruption_budget: bool | None = None

    @classmethod
    def from_cr_spec(cls, spec: Mapping[str, Any]) -> PipelineSpec:
        """Parse a StreamingPipeline's `.spec` (camelCase), applying the CRD's defaults."""
        return _parse_dataclass(cls, spec, "spec")

    def to_cr_spec(self) -> dict[str, Any]:
        """The camelCase `.spec` of this model, every default spelled out."""
        return _to_camel(self)

    @property
    def job_names(self) -> tuple[str, ...]:
        """The jobs this pipeline runs, in contracts.JOBS order (Gold always; Bronze/Silver per exchange)."""
        names = {e.name for e in self.exchanges}
        return tuple(job for job, _, exchange in JOBS if exchange is None or exchange in names)

    def exchange(self, name: str) -> ExchangeSpec:
        for exchange in self.exchanges:
            if exchange.name == name:
                return exchange
        raise KeyError(name)

    def restart_nonce_of(self, job: str) -> str:
        """The restart nonces a job's driver runs under, "<pipeline>.<job>" (unset counts as 0)."""
        job_spec = self.jobs.get(job) or JobSpec()
        return f"{self.restart_nonce or 0}.{job_spec.restart_nonce or 0}"

    def effective_spark_conf(self) -> dict[str, str]:
        """User Spark conf plus the Hadoop settings as `spark.hadoop.*` (what each job receives)."""
        hadoop = {f"spark.hadoop.{key}": value for key, value in sorted(self.storage.hadoop_conf.items())}
        return hadoop | dict(sorted(self.spark_conf.items()))

    def job_config(self, job_name: str, *, metrics_port: int = 8000) -> JobConfig:
        """The JobConfig (job-config contract) one job of this pipeline runs with."""
        for name, layer, exchange in JOBS:
            if name == job_name and job_name in self.job_names:
                # Only a topic other than the contract's default is carried; the job derives the rest.
                topic = self.exchange(exchange).topic if exchange is not None else None
                return JobConfig(
                    kafka_topic=topic if topic != raw_topic(exchange or "") else None,
                    layer=layer,
                    exchange=exchange,
                    kafka_bootstrap_servers=self.kafka.bootstrap_servers,
                    schema_registry_url=self.schema_registry.url,
                    tables_uri=self.storage.tables_uri,
                    checkpoints_uri=self.storage.checkpoints_uri,
                    trigger_interval=self.triggers.interval(layer),
                    gold_watermark=self.triggers.gold_watermark,
                    max_offsets_per_trigger=self.kafka.max_offsets_per_trigger,
                    starting_offsets=self.kafka.starting_offsets,
                    metrics_port=metrics_port,
                    spark_conf=self.effective_spark_conf(),
                    max_trade_age=self._max_trade_age(exchange),
                )
        raise KeyError(f"{job_name!r} is not a job of this pipeline {self.job_names}")

    def _max_trade_age(self, exchange: str | None) -> str:
        """Silver's age limit: the replay feed produces the recording's own (2024) trade times, which
        the default limit would send to the DLQ; any other source keeps JobConfig's default."""
        feed = self.exchange(exchange).feed if exchange is not None else None
        if feed is not None and feed.source == "replay":
            return REPLAY_MAX_TRADE_AGE
        return DEFAULT_MAX_TRADE_AGE

    def __post_init__(self) -> None:
        _check_pipeline(self)


# --- checks the operator relies on (the CRD has the full set) ------------------------------------

_ENUMS: Final[dict[str, tuple[str, ...]]] = {
    "spec.imagePullPolicy": ("Always", "IfNotPresent", "Never"),
    "spec.kafka.startingOffsets": ("earliest", "latest"),
    "spec.restartPolicy.type": ("Never", "OnFailure", "Always"),
}


def _check_pipeline(spec: PipelineSpec) -> None:
    checks = {
        "spec.imagePullPolicy": spec.image_pull_policy,
        "spec.kafka.startingOffsets": spec.kafka.starting_offsets,
        "spec.restartPolicy.type": spec.restart_policy.type,
    }
    for path, value in checks.items():
        if value not in _ENUMS[path]:
            raise PipelineSpecError(path, f"must be one of {_ENUMS[path]}, got {value!r}")
    if not spec.image:
        raise PipelineSpecError("spec.image", "must not be empty")
    if not MIN_TOTAL_CORES <= spec.resources.total_cores <= MAX_TOTAL_CORES:
        raise PipelineSpecError(
            "spec.resources.totalCores", f"must be {MIN_TOTAL_CORES} to {MAX_TOTAL_CORES}"
        )
    if not 0 < spec.resources.cpu_request_ratio <= 1:
        raise PipelineSpecError("spec.resources.cpuRequestRatio", "must be in (0, 1]")
    policy = spec.restart_policy
    if policy.backoff_max_seconds < policy.backoff_initial_seconds:
        raise PipelineSpecError(
            "spec.restartPolicy.backoffMaxSeconds", "must be at least backoffInitialSeconds"
        )
    if spec.quality.dlq_warning > spec.quality.dlq_critical:
        raise PipelineSpecError("spec.quality.dlqWarning", "must not exceed quality.dlqCritical")
    if not spec.exchanges:
        raise PipelineSpecError("spec.exchanges", "needs at least one exchange")
    names = [e.name for e in spec.exchanges]
    for i, name in enumerate(names):
        if name not in EXCHANGES:
            raise PipelineSpecError(f"spec.exchanges[{i}].name", f"must be one of {EXCHANGES}, got {name!r}")
    if len(set(names)) != len(names):
        raise PipelineSpecError("spec.exchanges", f"duplicate exchange names {names}")
    for job in spec.jobs:
        if job not in JOB_NAMES:
            raise PipelineSpecError("spec.jobs", f"{job!r} is not a job name {JOB_NAMES}")
    for key in spec.spark_conf:
        refusal = spark_conf_refusal(key)
        if refusal:
            raise PipelineSpecError("spec.sparkConf", refusal)
    if spec.pod_template is not None:
        _check_pod_template(spec.pod_template, spec.storage.volume)
    _check_storage(spec.storage)
    for i, exchange in enumerate(spec.exchanges):
        feed = exchange.feed
        if feed is not None and feed.source not in FEED_SOURCES:
            raise PipelineSpecError(
                f"spec.exchanges[{i}].feed.source", f"must be one of {FEED_SOURCES}, got {feed.source!r}"
            )


FEED_SOURCES: Final = ("live", "replay", "synthetic")


def _check_pod_template(template: PodTemplateSpec, storage: VolumeSpec | None) -> None:
    """The CRD's podTemplate rules (volume sources, reserved names, paths and label keys)."""
    path = "spec.podTemplate"
    for where, labels in (
        ("labels", template.labels),
        ("driver.labels", template.driver.labels),
        ("executor.labels", template.executor.labels),
    ):
        for key in labels:
            if key.startswith(RESERVED_LABEL_PREFIXES):
                raise PipelineSpecError(
                    f"{path}.{where}", f"{key}: app.kubernetes.io/ and k2.dev/ are the operator's"
                )
    names = []
    for i, volume in enumerate(template.volumes):
        sources = [key for key in volume if key != "name"]
        if len(sources) != 1 or sources[0] not in VOLUME_SOURCES:
            raise PipelineSpecError(
                f"{path}.volumes[{i}]",
                f"needs exactly one of {', '.join(VOLUME_SOURCES)}"
                " (hostPath and Secret volumes are not allowed)",
            )
        if volume.get("name") in RESERVED_VOLUME_NAMES:
            raise PipelineSpecError(f"{path}.volumes[{i}].name", f"{volume.get('name')} is the operator's")
        names.append(volume.get("name"))
    reserved_paths = RESERVED_MOUNT_PATHS + ((storage.mount_path,) if storage else ())
    for i, mount in enumerate(template.volume_mounts):
        if mount.get("name") not in names:
            raise PipelineSpecError(
                f"{path}.volumeMounts[{i}].name", "must name a volume of podTemplate.volumes"
            )
        if mount.get("mountPath") in reserved_paths:
            raise PipelineSpecError(f"{path}.volumeMounts[{i}].mountPath", "is a path the operator mounts")


def _check_storage(storage: StorageSpec) -> None:
    """The CRD's storage rules: file:// only on a volume, and under its mount path."""
    for path, uri in (
        ("spec.storage.tablesUri", storage.tables_uri),
        ("spec.storage.checkpointsUri", storage.checkpoints_uri),
    ):
        if not uri.startswith(FILE_SCHEME):
            continue
        if storage.volume is None:
            raise PipelineSpecError(path, "a file:// URI needs storage.volume (a PVC mounted in every pod)")
        if not storage.volume.holds(uri):
            raise PipelineSpecError(path, "a file:// URI must lie under storage.volume.mountPath")


# --- camelCase <-> dataclass, driven by the dataclass fields ----------------------------------------

T = TypeVar("T")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _parse_dataclass(cls: type[T], data: Any, path: str) -> T:
    if not isinstance(data, Mapping):
        raise PipelineSpecError(path, f"must be an object, got {type(data).__name__}")
    fields = {_camel(f.name): f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    # The API server prunes fields its CRD does not know, so an unknown field here means a CRD newer
    # than this operator (a helm upgrade's CRD before the new pod, or a rollback). Refusing it would stop
    # every pipeline; like Kubernetes' own controllers, this one reads what it knows and says what it skips.
    if unknown := sorted(set(data) - set(fields)):
        log.warning(
            "ignoring fields this operator does not know (CRD newer than the operator?)",
            extra={"path": path, "fields": unknown},
        )
    values: dict[str, Any] = {}
    for key, fld in fields.items():
        if key not in data:
            if fld.default is dataclasses.MISSING and fld.default_factory is dataclasses.MISSING:
                raise PipelineSpecError(f"{path}.{key}", "is required")
            continue
        values[fld.name] = _parse_value(cls, fld, data[key], f"{path}.{key}")
    return cls(**values)


def _parse_value(owner: type, fld: dataclasses.Field[Any], value: Any, path: str) -> Any:
    nested = _NESTED.get((owner.__name__, fld.name))
    if nested is dict:
        if not isinstance(value, Mapping):
            raise PipelineSpecError(path, "must be an object")
        return {str(k): _parse_dataclass(JobSpec, v, f"{path}.{k}") for k, v in value.items()}
    if nested is list:
        if not isinstance(value, list):
            raise PipelineSpecError(path, "must be a list")
        return tuple(_parse_dataclass(ExchangeSpec, item, f"{path}[{i}]") for i, item in enumerate(value))
    if nested is not None:
        return _parse_dataclass(nested, value, path)
    return _parse_scalar(fld, value, path)


def _parse_scalar(fld: dataclasses.Field[Any], value: Any, path: str) -> Any:
    kind = _SCALAR_KINDS.get(fld.name, str)
    if kind is list:  # Kubernetes objects passed through (tolerations, volumes, ...)
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise PipelineSpecError(path, "must be a list of objects")
        return tuple(copy.deepcopy(dict(v)) for v in value)
    if kind is Mapping:
        if not isinstance(value, Mapping):
            raise PipelineSpecError(path, "must be an object")
        return copy.deepcopy(dict(value))
    if kind is dict:
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise PipelineSpecError(path, "must map strings to strings")
        return dict(value)
    if kind is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise PipelineSpecError(path, "must be a list of strings")
        return tuple(value)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, bool):
        raise PipelineSpecError(path, "must be an integer")
    if not isinstance(value, kind):
        raise PipelineSpecError(path, f"must be a {kind.__name__}, got {type(value).__name__}")
    return value


#: (dataclass, field) -> nested dataclass (or `list` for the exchanges list).
_NESTED: Final[dict[tuple[str, str], Any]] = {
    ("PipelineSpec", "kafka"): KafkaSpec,
    ("PipelineSpec", "schema_registry"): SchemaRegistrySpec,
    ("PipelineSpec", "storage"): StorageSpec,
    ("PipelineSpec", "exchanges"): list,
    ("PipelineSpec", "triggers"): TriggerSpec,
    ("PipelineSpec", "resources"): ResourceSpec,
    ("PipelineSpec", "restart_policy"): RestartPolicySpec,
    ("PipelineSpec", "quality"): QualitySpec,
    ("PipelineSpec", "jobs"): dict,
    ("KafkaSpec", "credentials_secret_ref"): CredentialsSecretRef,
    ("SchemaRegistrySpec", "credentials_secret_ref"): CredentialsSecretRef,
    ("StorageSpec", "secret_ref"): SecretRef,
    ("StorageSpec", "volume"): VolumeSpec,
    ("ExchangeSpec", "feed"): FeedSpec,
    ("PipelineSpec", "pod_template"): PodTemplateSpec,
    ("PodTemplateSpec", "driver"): PodMetadataSpec,
    ("PodTemplateSpec", "executor"): PodMetadataSpec,
}

#: Non-string scalar fields by name (every other scalar is a string).
_SCALAR_KINDS: Final[dict[str, type]] = {
    "suspend": bool,
    "driver_start_timeout_seconds": int,
    "progress_timeout_seconds": int,
    "driver_lost_grace_seconds": int,
    "restart_nonce": int,
    "max_offsets_per_trigger": int,
    "total_cores": int,
    "cpu_request_ratio": float,
    "max_retries": int,
    "backoff_initial_seconds": int,
    "backoff_max_seconds": int,
    "reset_after_seconds": int,
    "hadoop_conf": dict,
    "spark_conf": dict,
    "symbols": tuple,
    "rate": float,
    "stale_after_seconds": int,
    "enabled": bool,
    "interval_seconds": int,
    "dlq_warning": float,
    "dlq_critical": float,
    "driver_pod_disruption_budget": bool,
    "labels": dict,
    "annotations": dict,
    "node_selector": dict,
    "tolerations": list,
    "affinity": Mapping,
    "image_pull_secrets": list,
    "volumes": list,
    "volume_mounts": list,
}


def _to_camel(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            _camel(f.name): _to_camel(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not None
        }
    if isinstance(value, tuple):
        return [_to_camel(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_camel(v) for k, v in value.items()}
    return value
