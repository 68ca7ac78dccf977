"""From the typed spec to each job's children, and the contracts with the CRD (drift checks)."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml
from k2_operator.builders import PipelineRef
from k2_operator.desired import desired_pipeline, memory_mib, restart_policy
from k2_operator.pipeline_spec import PipelineSpec, RestartPolicySpec
from k2_operator.pipeline_status import (
    PHASE_DEGRADED,
    PHASE_FAILED,
    PHASE_PENDING,
    PHASE_RUNNING,
    PHASE_STARTING,
    PHASE_SUSPENDED,
    PHASE_UPDATING,
    record_to_status,
)
from k2_operator.planner import plan_pipeline
from k2_operator.reconciler import deadline_due
from k2_operator.state_machine import JobPhase, JobRecord

from k2_shared import job_config as job_config_module
from spark_jobs.contracts import JOB_NAMES
from spark_jobs.job_config import JobConfig

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = yaml.safe_load((ROOT / "examples" / "streamingpipeline.yaml").read_text())
CRD = yaml.safe_load((ROOT / "crds" / "streamingpipelines.k2.dev.yaml").read_text())
REF = PipelineRef("crypto-trades", "default", "uid-1")


def status_schema() -> dict[str, Any]:
    schema: dict[str, Any] = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema["properties"]["status"]["properties"]


def desired(spec: dict[str, Any]) -> Any:
    return desired_pipeline(REF, PipelineSpec.from_cr_spec(spec))


def test_example_pipeline_yields_five_jobs_within_its_budget() -> None:
    pipeline = desired(EXAMPLE["spec"])
    assert list(pipeline.jobs) == list(JOB_NAMES)
    assert sum(job.cores for job in pipeline.jobs.values()) == EXAMPLE["spec"]["resources"]["totalCores"]
    assert len({job.spec_hash for job in pipeline.jobs.values()}) == 5
    for job in pipeline.jobs.values():
        for obj in (job.pod, job.service, job.config_map):
            assert obj["metadata"]["annotations"]["k2.dev/spec-hash"] == job.spec_hash


def test_a_gold_only_change_changes_only_golds_hash() -> None:
    before = desired(EXAMPLE["spec"])
    spec = copy.deepcopy(EXAMPLE["spec"])
    spec["triggers"]["gold"] = "30 seconds"
    after = desired(spec)
    changed = [job for job in JOB_NAMES if before.jobs[job].spec_hash != after.jobs[job].spec_hash]
    assert changed == ["gold"]


def test_suspend_and_restart_policy_do_not_touch_any_hash() -> None:
    before = desired(EXAMPLE["spec"])
    spec = copy.deepcopy(EXAMPLE["spec"])
    spec["suspend"] = True
    spec["restartPolicy"]["maxRetries"] = 1
    after = desired(spec)
    assert {j: d.spec_hash for j, d in before.jobs.items()} == {j: d.spec_hash for j, d in after.jobs.items()}


def test_an_image_change_changes_every_hash() -> None:
    before = desired(EXAMPLE["spec"])
    spec = copy.deepcopy(EXAMPLE["spec"])
    spec["image"] = "registry.example.com/k2/streaming:0.2.0"
    after = desired(spec)
    assert all(before.jobs[j].spec_hash != after.jobs[j].spec_hash for j in JOB_NAMES)


def test_config_map_carries_the_job_config_the_spec_defines() -> None:
    pipeline = desired(EXAMPLE["spec"])
    silver = pipeline.jobs["silver-kraken"]
    config = JobConfig.from_dict(yaml.safe_load(silver.config_map["data"]["job.yaml"]))
    from_spec = pipeline.spec.job_config("silver-kraken", metrics_port=8000)
    assert dataclasses.replace(config, spark_conf=from_spec.spark_conf) == from_spec
    assert config.checkpoint_uri == "s3a://k2-lake/checkpoints/silver-kraken"


def test_the_job_runs_on_the_master_spark_submit_uses_not_local_mode() -> None:
    # spark_jobs.jobs falls back to local[2] unless its config names a master.
    job = desired(EXAMPLE["spec"]).jobs["gold"]
    config = JobConfig.from_dict(yaml.safe_load(job.config_map["data"]["job.yaml"]))
    command = job.pod["spec"]["containers"][0]["command"]
    assert config.spark_conf["spark.master"] == command[command.index("--master") + 1]
    assert config.spark_conf["spark.sql.shuffle.partitions"] == "8"  # the user's settings stay


def test_credentials_become_env_from_secret_refs_with_the_job_config_names() -> None:
    pod = desired(EXAMPLE["spec"]).jobs["bronze-binance"].pod
    container = pod["spec"]["containers"][0]
    secret_vars = {
        v["name"]: v["valueFrom"]["secretKeyRef"]
        for v in container["env"]
        if "secretKeyRef" in v.get("valueFrom", {})
    }
    assert secret_vars == {
        "K2_KAFKA_SASL_USERNAME": {"name": "kafka-credentials", "key": "username"},
        "K2_KAFKA_SASL_PASSWORD": {"name": "kafka-credentials", "key": "password"},
    }
    for name in secret_vars:  # the names the job side documents
        assert name in (job_config_module.__doc__ or "")
    assert container["envFrom"] == [{"secretRef": {"name": "lake-credentials"}}]


def test_one_exchange_pipeline_has_three_jobs() -> None:
    spec = copy.deepcopy(EXAMPLE["spec"])
    spec["exchanges"] = [e for e in spec["exchanges"] if e["name"] == "kraken"]
    assert list(desired(spec).jobs) == ["bronze-kraken", "silver-kraken", "gold"]


def test_memory_quantities() -> None:
    assert memory_mib("2Gi") == 2048
    assert memory_mib("512Mi") == 512
    assert memory_mib("1.5Gi") == 1536


def test_restart_backoff_matches_the_typed_specs_formula() -> None:
    spec = RestartPolicySpec(backoff_initial_seconds=3, backoff_max_seconds=50)
    policy = restart_policy(spec)
    assert [policy.delay(n) for n in range(6)] == [float(spec.backoff_seconds(n)) for n in range(6)]


# --- drift against the CRD's status schema -------------------------------------------------------


def test_job_phases_are_the_crds_job_phase_enum() -> None:
    enum = status_schema()["jobs"]["additionalProperties"]["properties"]["phase"]["enum"]
    assert {phase.value for phase in JobPhase} <= set(enum)


def test_pipeline_phases_are_in_the_crds_phase_enum() -> None:
    ours = {
        PHASE_PENDING,
        PHASE_STARTING,
        PHASE_RUNNING,
        PHASE_UPDATING,
        PHASE_DEGRADED,
        PHASE_FAILED,
        PHASE_SUSPENDED,
    }
    assert ours <= set(status_schema()["phase"]["enum"])


def test_job_status_entry_and_plan_use_only_fields_the_crd_keeps() -> None:
    # Fields missing from a structural schema are pruned silently: the operator would lose them.
    job_fields = set(status_schema()["jobs"]["additionalProperties"]["properties"])
    assert set(record_to_status(JobRecord(), cores=1)) <= job_fields
    plan_fields = set(status_schema()["plan"]["properties"]["jobs"]["additionalProperties"]["properties"])
    assert set(plan_pipeline(14, 2048)["gold"].as_status()) <= plan_fields


def test_a_pipeline_is_due_for_a_timer_reconcile_only_when_a_deadline_passed() -> None:
    body: dict[str, Any] = {"spec": EXAMPLE["spec"], "status": {"jobs": {}}}
    assert deadline_due(body, 1000.0) is False
    body["status"]["jobs"]["gold"] = {"phase": "BackOff", "nextRestartTime": "1970-01-01T00:16:50Z"}  # 1010
    assert deadline_due(body, 1009.0) is False
    assert deadline_due(body, 1010.0) is True
    # Invalid: nothing time-driven (its own event reconciles it, reporting InvalidSpec).
    assert deadline_due({"spec": {"image": "x"}}, 0.0) is False
