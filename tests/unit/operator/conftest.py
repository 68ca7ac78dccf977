"""Factories for the operator's pure-logic tests."""

from __future__ import annotations

from typing import Any

import pytest
from k2_operator.builders import JobInputs, PipelineRef, SecretEnv
from k2_operator.planner import plan_pipeline

from spark_jobs.contracts import JOBS
from spark_jobs.job_config import JobConfig


def make_inputs(job: str = "silver-binance", total_cores: int = 14, **overrides: object) -> JobInputs:
    _, layer, exchange = next(entry for entry in JOBS if entry[0] == job)
    config = JobConfig(
        layer=layer,
        exchange=exchange,
        kafka_bootstrap_servers="kafka-0.kafka:9092",
        schema_registry_url="http://registry:8080/apis/ccompat/v7",
        tables_uri="s3a://k2/tables",
        checkpoints_uri="s3a://k2/checkpoints",
        metrics_port=8000,
    )
    values: dict[str, Any] = {
        "pipeline": PipelineRef(name="prod", namespace="k2", uid="0000-1111"),
        "job": job,
        "plan": plan_pipeline(total_cores, 2048)[job],
        "job_config": config,
        "image": "k2/streaming:0.1.0",
        "image_pull_policy": "IfNotPresent",
        "secret_env": (SecretEnv("K2_KAFKA_SASL_PASSWORD", "kafka-creds", "password"),),
        "spark_conf": {"spark.sql.shuffle.partitions": "8"},
    }
    values.update(overrides)
    return JobInputs(**values)


@pytest.fixture
def job_inputs() -> JobInputs:
    return make_inputs()
