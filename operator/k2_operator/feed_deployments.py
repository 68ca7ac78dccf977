"""One feed Deployment per exchange that has `feed` in the spec: the job image running `k2 feed`, producing
the exchange's trades to its topic. Feeds sit outside the 12-16 core budget (their own small requests).

The feed serves /metrics and /healthz on its "metrics" port; /healthz fails once the broker has
acknowledged nothing for `staleAfterSeconds` (see spark_jobs/feeds/health.py), so the liveness probe
means "connected and producing" and Kubernetes restarts a feed that is neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from k2_operator import naming as n
from k2_operator.builders import (
    PipelineRef,
    SecretEnv,
    container_security_context,
    pod_security_context,
    storage_mounts,
    storage_volumes,
)
from k2_operator.pipeline_spec import ExchangeSpec, FeedSpec, PipelineSpec, VolumeSpec
from k2_operator.spec_hash import spec_hash, stamp

FEED_CONTAINER: Final = "feed"
TERMINATION_GRACE_SECONDS: Final = 30  # the feed flushes its producer on SIGTERM


@dataclass(frozen=True)
class FeedInputs:
    pipeline: PipelineRef
    exchange: ExchangeSpec
    feed: FeedSpec
    image: str
    image_pull_policy: str
    bootstrap_servers: str
    registry_url: str
    secret_env: tuple[SecretEnv, ...] = ()
    suspended: bool = False
    #: The pipeline's PVC, mounted at the same path as in the drivers and executors.
    storage: VolumeSpec | None = None


def feed_command(exchange: ExchangeSpec, feed: FeedSpec) -> list[str]:
    command = [
        "k2",
        "feed",
        "--exchange",
        exchange.name,
        "--source",
        feed.source,
        "--topic",
        exchange.topic,
        "--symbols",
        *exchange.symbols,
        "--metrics-port",
        str(n.FEED_METRICS_PORT),
        "--stale-after",
        str(feed.stale_after_seconds),
    ]
    if feed.source == "synthetic":
        command += ["--rate", _number(feed.effective_rate)]
    elif feed.source == "replay":
        command += ["--speed", _number(feed.effective_rate), "--loops", "0"]  # the sample, forever
    return command


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def build_feed_deployment(inputs: FeedInputs) -> dict[str, Any]:
    ref, exchange, feed = inputs.pipeline, inputs.exchange, inputs.feed
    labels = n.feed_labels(ref.name, exchange.name)
    probe = {"httpGet": {"path": "/healthz", "port": n.METRICS_PORT_NAME}, "timeoutSeconds": 5}
    env = [
        {"name": "K2_KAFKA_BOOTSTRAP_SERVERS", "value": inputs.bootstrap_servers},
        {"name": "K2_SCHEMA_REGISTRY_URL", "value": inputs.registry_url},
        {"name": "K2_PIPELINE", "value": ref.name},
        {"name": "K2_EXCHANGE", "value": exchange.name},
        {"name": "PYTHONUNBUFFERED", "value": "1"},
        {"name": "HOME", "value": "/tmp"},
        *(secret.as_env_var() for secret in inputs.secret_env),
    ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": n.feed_deployment_name(ref.name, exchange.name),
            "namespace": ref.namespace,
            "labels": labels,
            "ownerReferences": [ref.owner_reference()],
        },
        "spec": {
            # Suspended: no feed either (the topic keeps what it has); resuming scales it back.
            "replicas": 0 if inputs.suspended else 1,
            # Never two feeds of one exchange at once (Gold would deduplicate them, but why produce twice).
            "strategy": {"type": "Recreate"},
            "revisionHistoryLimit": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "automountServiceAccountToken": False,  # a feed never calls the API server
                    "enableServiceLinks": False,
                    "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
                    "securityContext": pod_security_context(),
                    "containers": [
                        {
                            "name": FEED_CONTAINER,
                            "image": inputs.image,
                            "imagePullPolicy": inputs.image_pull_policy,
                            "command": feed_command(exchange, feed),
                            "env": env,
                            "ports": [
                                {
                                    "name": n.METRICS_PORT_NAME,
                                    "containerPort": n.FEED_METRICS_PORT,
                                    "protocol": "TCP",
                                }
                            ],
                            # The endpoint itself allows staleAfterSeconds from the start.
                            "livenessProbe": {
                                **probe,
                                "initialDelaySeconds": 10,
                                "periodSeconds": 10,
                                "failureThreshold": 3,
                            },
                            "readinessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 1},
                            "resources": {
                                "requests": {"cpu": feed.cpu, "memory": feed.memory},
                                "limits": {"cpu": feed.cpu, "memory": feed.memory},
                            },
                            "securityContext": container_security_context(),
                            "volumeMounts": [
                                {"name": "tmp", "mountPath": "/tmp"},
                                *storage_mounts(inputs.storage),
                            ],
                        }
                    ],
                    "volumes": [{"name": "tmp", "emptyDir": {}}, *storage_volumes(inputs.storage)],
                },
            },
        },
    }


def desired_feeds(
    ref: PipelineRef, spec: PipelineSpec, secret_env: tuple[SecretEnv, ...]
) -> dict[str, dict[str, Any]]:
    """exchange -> its stamped feed Deployment, for every exchange with a feed."""
    feeds: dict[str, dict[str, Any]] = {}
    for exchange in spec.exchanges:
        if exchange.feed is None:
            continue
        deployment = build_feed_deployment(
            FeedInputs(
                pipeline=ref,
                exchange=exchange,
                feed=exchange.feed,
                image=spec.image,
                image_pull_policy=spec.image_pull_policy,
                bootstrap_servers=spec.kafka.bootstrap_servers,
                registry_url=spec.schema_registry.url,
                secret_env=secret_env,
                suspended=spec.suspend,
                storage=spec.storage.volume,
            )
        )
        feeds[exchange.name] = stamp(deployment, spec_hash(deployment))
    return feeds


#: status.feeds[exchange].phase
FEED_PENDING: Final = "Pending"
FEED_RUNNING: Final = "Running"
FEED_UNAVAILABLE: Final = "Unavailable"
FEED_SUSPENDED: Final = "Suspended"


def feed_status(
    deployment: dict[str, Any] | None, source: str, suspended: bool, old: dict[str, Any] | None
) -> dict[str, Any]:
    """One exchange's entry in status.feeds, from its Deployment as last read (None: not created yet)."""
    observed = (deployment or {}).get("status") or {}
    ready = int(observed.get("readyReplicas") or 0)
    was_running = (old or {}).get("phase") in (FEED_RUNNING, FEED_UNAVAILABLE)
    if suspended:
        phase = FEED_SUSPENDED
    elif ready > 0:
        phase = FEED_RUNNING
    else:
        phase = FEED_UNAVAILABLE if was_running else FEED_PENDING
    messages = [
        f"{c.get('type')}: {c.get('message')}"
        for c in observed.get("conditions") or []
        if c.get("status") != "True" and c.get("message")
    ]
    name = ((deployment or {}).get("metadata") or {}).get("name", "")
    return {
        "deployment": name,
        "source": source,
        "phase": phase,
        "readyReplicas": ready,
        "message": "; ".join(messages),
    }
