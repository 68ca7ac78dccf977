"""What a StreamingPipeline should look like: its plan and, per job, the stamped children and their hash.

The one place where the typed spec (pipeline_spec.PipelineSpec) meets the builders.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from kubernetes.utils import parse_quantity

from k2_operator import naming as n
from k2_operator.builders import (
    IN_CLUSTER_MASTER,
    JobInputs,
    PipelineRef,
    SecretEnv,
    build_config_map,
    build_driver_pod,
    build_driver_service,
)
from k2_operator.feed_deployments import desired_feeds
from k2_operator.pipeline_spec import CredentialsSecretRef, PipelineSpec, RestartPolicySpec
from k2_operator.planner import PipelinePlan, plan_pipeline
from k2_operator.quality_process import desired_quality_deployment
from k2_operator.spec_hash import inputs_hash, stamp
from k2_operator.state_machine import RestartPolicy
from k2_shared.job_config import JobConfig

MIB = 1024 * 1024


@dataclass(frozen=True)
class DesiredJob:
    job: str
    inputs: JobInputs
    spec_hash: str
    config_map: dict[str, Any]
    service: dict[str, Any]
    pod: dict[str, Any]

    @property
    def cores(self) -> int:
        return self.inputs.plan.total_cores


@dataclass(frozen=True)
class DesiredPipeline:
    ref: PipelineRef
    spec: PipelineSpec
    plan: PipelinePlan
    jobs: dict[str, DesiredJob]
    #: exchange -> its stamped feed Deployment (exchanges with `feed` only).
    feeds: dict[str, dict[str, Any]]
    #: The stamped Deployment of the pipeline's data-quality process (k2 quality).
    quality: dict[str, Any]

    @property
    def restart_policy(self) -> RestartPolicy:
        return restart_policy(self.spec.restart_policy)


def desired_pipeline(ref: PipelineRef, spec: PipelineSpec) -> DesiredPipeline:
    n.check_pipeline_name(ref.name)
    plan = plan_pipeline(
        spec.resources.total_cores,
        memory_mib(spec.resources.memory_per_core),
        spec.resources.cpu_request_ratio,
        jobs=spec.job_names,
    )
    jobs = {job: desired_job(job_inputs(ref, spec, plan, job)) for job in spec.job_names}
    feeds = desired_feeds(ref, spec, secret_env(spec))
    quality = desired_quality_deployment(ref, spec, secret_env(spec))
    return DesiredPipeline(ref=ref, spec=spec, plan=plan, jobs=jobs, feeds=feeds, quality=quality)


def job_inputs(ref: PipelineRef, spec: PipelineSpec, plan: PipelinePlan, job: str) -> JobInputs:
    return JobInputs(
        pipeline=ref,
        job=job,
        plan=plan[job],
        job_config=driver_job_config(spec, job),
        image=spec.image,
        image_pull_policy=spec.image_pull_policy,
        secret_env=secret_env(spec),
        env_from_secrets=(spec.storage.secret_ref.name,) if spec.storage.secret_ref else (),
        spark_conf=spec.effective_spark_conf(),
        volume=spec.storage.volume,
        pod_template=spec.pod_template,
    )


def driver_job_config(spec: PipelineSpec, job: str) -> JobConfig:
    """The spec's JobConfig plus `spark.master`: the job entrypoint falls back to local mode without it,
    and spark-submit's master must win (the CRD keeps users from setting it)."""
    config = spec.job_config(job, metrics_port=n.DRIVER_METRICS_PORT)
    return dataclasses.replace(config, spark_conf={**config.spark_conf, "spark.master": IN_CLUSTER_MASTER})


def desired_job(inputs: JobInputs) -> DesiredJob:
    config_map, service, pod = (
        build_config_map(inputs),
        build_driver_service(inputs),
        build_driver_pod(inputs),
    )
    digest = inputs_hash(inputs)
    return DesiredJob(
        job=inputs.job,
        inputs=inputs,
        spec_hash=digest,
        config_map=stamp(config_map, digest, rendered=True),
        service=stamp(service, digest, rendered=True),
        pod=stamp(pod, digest, rendered=True),
    )


def secret_env(spec: PipelineSpec) -> tuple[SecretEnv, ...]:
    """Credentials as env vars from Secret keys (the names JobConfig's docstring gives)."""
    return _credentials("K2_KAFKA_SASL", spec.kafka.credentials_secret_ref) + _credentials(
        "K2_SCHEMA_REGISTRY", spec.schema_registry.credentials_secret_ref
    )


def _credentials(prefix: str, ref: CredentialsSecretRef | None) -> tuple[SecretEnv, ...]:
    if ref is None:
        return ()
    return (
        SecretEnv(f"{prefix}_USERNAME", ref.name, ref.username_key),
        SecretEnv(f"{prefix}_PASSWORD", ref.name, ref.password_key),
    )


def restart_policy(spec: RestartPolicySpec) -> RestartPolicy:
    return RestartPolicy(
        type=spec.type,
        max_retries=spec.max_retries,
        backoff_initial_seconds=spec.backoff_initial_seconds,
        backoff_max_seconds=spec.backoff_max_seconds,
        reset_after_seconds=spec.reset_after_seconds,
    )


def memory_mib(quantity: str) -> int:
    return int(parse_quantity(quantity) // MIB)
