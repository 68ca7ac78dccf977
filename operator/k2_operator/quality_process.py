"""A pipeline's data-quality checks on Kubernetes: one long-running `k2 quality` Deployment per
pipeline, outside the 12-16 core budget (its own small Spark in local mode, its own requests).

Why one process and not CronJobs: the checks' results are Prometheus gauges
(k2_quality_check_status / _value by check and scope) that must stay scrapeable between runs; a
CronJob pod exits after its run and its metrics go with it (they would need a pushgateway). One JVM
per pipeline also saves a Spark start (tens of seconds) per run, and the process keeps each check on
its own schedule (DLQ rate, freshness, conservation every interval, duplicates every 12 intervals).

The process writes a summary of each run into a ConfigMap the operator creates for it (its own
ServiceAccount may get and update only that ConfigMap); the operator copies the summary into
``status.quality`` (lastRun, worstStatus, per check), so the pipeline's status keeps one writer.
"""

from __future__ import annotations

import json
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
from k2_operator.pipeline_spec import PipelineSpec
from k2_operator.spec_hash import spec_hash, stamp

QUALITY_CONTAINER: Final = "quality"
#: The ConfigMap key the quality process writes (spark_jobs.quality.report.SUMMARY_KEY; a unit test
#: keeps the two equal without the operator importing Spark's side).
SUMMARY_KEY: Final = "summary.json"


def quality_command(ref: PipelineRef, spec: PipelineSpec) -> list[str]:
    quality, gold = spec.quality, spec.job_config("gold")
    command = [
        "k2", "quality",
        "--tables-uri", gold.tables_uri,
        "--checkpoints-uri", gold.checkpoints_uri,
        "--bootstrap-servers", spec.kafka.bootstrap_servers,
        "--interval", str(quality.interval_seconds),
        "--stale-after", str(quality.stale_after_seconds),
        "--dlq-warning", str(quality.dlq_warning),
        "--dlq-critical", str(quality.dlq_critical),
        "--watermark", spec.triggers.gold_watermark,
        "--metrics-port", str(n.QUALITY_METRICS_PORT),
        "--metrics-bind-address", "0.0.0.0",
        "--report-configmap", n.quality_report_name(ref.name),
    ]  # fmt: skip
    for exchange in spec.exchanges:
        command += ["--topic", f"{exchange.name}={exchange.topic}"]
    for key, value in spec.effective_spark_conf().items():
        command += ["--spark-conf", f"{key}={value}"]
    return command


def _metadata(ref: PipelineRef, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": ref.namespace,
        "labels": n.pipeline_labels(ref.name, n.COMPONENT_QUALITY),
        "ownerReferences": [ref.owner_reference()],
    }


def build_quality_deployment(
    ref: PipelineRef, spec: PipelineSpec, secret_env: tuple[SecretEnv, ...] = ()
) -> dict[str, Any]:
    """The pipeline's storage (PVC or object-store credentials) reaches it as it reaches the drivers."""
    quality = spec.quality
    labels = n.pipeline_labels(ref.name, n.COMPONENT_QUALITY)
    pod_volumes, mounts = storage_volumes(spec.storage.volume), storage_mounts(spec.storage.volume)
    env_from_secrets = (spec.storage.secret_ref.name,) if spec.storage.secret_ref else ()
    env = [
        {"name": "K2_PIPELINE", "value": ref.name},
        {"name": "PYTHONUNBUFFERED", "value": "1"},
        {"name": "HOME", "value": "/tmp"},
        *(secret.as_env_var() for secret in secret_env),
    ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(ref, n.quality_deployment_name(ref.name)),
        "spec": {
            "replicas": 0 if spec.suspend or not quality.enabled else 1,
            "strategy": {"type": "Recreate"},  # one writer of the quality_checks table at a time
            "revisionHistoryLimit": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": n.quality_service_account_name(ref.name),
                    "enableServiceLinks": False,
                    "securityContext": pod_security_context(),
                    "containers": [
                        {
                            "name": QUALITY_CONTAINER,
                            "image": spec.image,
                            "imagePullPolicy": spec.image_pull_policy,
                            "command": quality_command(ref, spec),
                            "env": env,
                            "envFrom": [{"secretRef": {"name": name}} for name in env_from_secrets],
                            "ports": [
                                {
                                    "name": n.METRICS_PORT_NAME,
                                    "containerPort": n.QUALITY_METRICS_PORT,
                                    "protocol": "TCP",
                                }
                            ],
                            "resources": {
                                "requests": {"cpu": quality.cpu, "memory": quality.memory},
                                "limits": {"cpu": quality.cpu, "memory": quality.memory},
                            },
                            "securityContext": container_security_context(),
                            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, *mounts],
                        }
                    ],
                    "volumes": [{"name": "tmp", "emptyDir": {}}, *pod_volumes],
                },
            },
        },
    }


def desired_quality_deployment(
    ref: PipelineRef, spec: PipelineSpec, secret_env: tuple[SecretEnv, ...]
) -> dict[str, Any]:
    deployment = build_quality_deployment(ref, spec, secret_env)
    return stamp(deployment, spec_hash(deployment))


def build_report_config_map(ref: PipelineRef) -> dict[str, Any]:
    """Created once, empty; the quality process fills it (the operator never overwrites it)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(ref, n.quality_report_name(ref.name)),
    }


def build_quality_rbac(ref: PipelineRef) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """ServiceAccount, Role (get/update of the report ConfigMap, nothing else) and RoleBinding."""
    name = n.quality_service_account_name(ref.name)
    rbac = "rbac.authorization.k8s.io"
    role_rules = [
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "resourceNames": [n.quality_report_name(ref.name)],
            "verbs": ["get", "update"],
        }
    ]
    return (
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _metadata(ref, name)},
        {"apiVersion": f"{rbac}/v1", "kind": "Role", "metadata": _metadata(ref, name), "rules": role_rules},
        {
            "apiVersion": f"{rbac}/v1",
            "kind": "RoleBinding",
            "metadata": _metadata(ref, name),
            "roleRef": {"apiGroup": rbac, "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ref.namespace}],
        },
    )


def quality_status(report: dict[str, Any] | None, deployment_name: str, enabled: bool) -> dict[str, Any]:
    """status.quality from the report ConfigMap as last read: the process's last summary, or a
    placeholder before its first run (worstStatus "pending") or when the checks are disabled."""
    if not enabled:
        return {"deployment": deployment_name, "worstStatus": "disabled", "lastRun": None, "checks": None}
    raw = ((report or {}).get("data") or {}).get(SUMMARY_KEY)
    try:
        summary = json.loads(raw) if raw else {}
    except ValueError:
        summary = {}
    return {
        "deployment": deployment_name,
        "worstStatus": summary.get("worstStatus") or "pending",
        "lastRun": summary.get("lastRun"),
        "checks": summary.get("checks") or None,
    }
