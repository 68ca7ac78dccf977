"""Pipeline phase, conditions and the per-job status entries."""

from __future__ import annotations

import pytest
from k2_operator.pipeline_status import (
    conditions,
    invalid_spec_conditions,
    pipeline_phase,
    ready_count,
    record_from_status,
    record_to_status,
)
from k2_operator.state_machine import JobRecord

from spark_jobs.contracts import JOB_NAMES

pytestmark = pytest.mark.unit


def records(*phases: str) -> dict[str, JobRecord]:
    return {
        job: JobRecord(phase=phase, reason=f"r-{job}") for job, phase in zip(JOB_NAMES, phases, strict=True)
    }


ALL_RUNNING = records(*["Running"] * 5)


@pytest.mark.parametrize(
    ("phases", "suspended", "expected"),
    [
        (["Running"] * 5, False, "Running"),
        (["Pending"] * 5, False, "Pending"),
        (["Running"] * 4 + ["Starting"], False, "Starting"),
        (["Running"] * 4 + ["BackOff"], False, "Degraded"),
        (["Running"] * 4 + ["Failed"], False, "Degraded"),
        (["Failed"] * 5, False, "Failed"),
        (["Suspended"] * 5, True, "Suspended"),
        (["Succeeded"] * 5, False, "Succeeded"),
        (["Running"] * 4 + ["Succeeded"], False, "Degraded"),
        (["Running"] * 4 + ["RunningWithPartialCapacity"], False, "Degraded"),
        (["Running"] * 4 + ["Stalled"], False, "Degraded"),
        (["Running"] * 4 + ["Lost"], False, "Degraded"),
    ],
)
def test_pipeline_phase(phases: list[str], suspended: bool, expected: str) -> None:
    assert pipeline_phase(records(*phases), suspended) == expected


def test_a_job_being_replaced_after_a_spec_change_makes_the_pipeline_updating() -> None:
    jobs = records(*["Running"] * 5)
    jobs["gold"] = JobRecord(phase="Pending", reason="SpecChanged")
    assert pipeline_phase(jobs, False) == "Updating"


def test_ready_count_reads_like_the_printer_column() -> None:
    assert ready_count(records("Running", "Running", "Pending", "Failed", "Running")) == "3/5"


def by_type(conds: list[dict[str, object]]) -> dict[object, dict[str, object]]:
    return {c["type"]: c for c in conds}


def test_conditions_when_all_running_carry_the_observed_generation() -> None:
    conds = by_type(conditions(ALL_RUNNING, False, 7, None, 0.0))
    assert {t: c["status"] for t, c in conds.items()} == {
        "Ready": "True",
        "Progressing": "False",
        "Degraded": "False",
    }
    assert {c["observedGeneration"] for c in conds.values()} == {7}
    assert conds["Ready"]["lastTransitionTime"] == "1970-01-01T00:00:00Z"


def test_a_failed_job_makes_the_pipeline_degraded_with_the_job_named() -> None:
    conds = by_type(
        conditions(records("Running", "Running", "Running", "Failed", "Running"), False, 3, None, 0.0)
    )
    assert conds["Degraded"]["status"] == "True"
    assert conds["Degraded"]["reason"] == "r-silver-kraken"
    assert "silver-kraken: Failed" in str(conds["Degraded"]["message"])
    assert conds["Ready"]["status"] == "False"


def test_last_transition_time_moves_only_when_the_status_flips() -> None:
    first = conditions(ALL_RUNNING, False, 1, None, 100.0)
    same = by_type(conditions(ALL_RUNNING, False, 2, first, 200.0))
    assert same["Ready"]["lastTransitionTime"] == "1970-01-01T00:01:40Z"
    assert same["Ready"]["observedGeneration"] == 2
    flipped = by_type(conditions(records(*["Pending"] * 5), False, 2, first, 200.0))
    assert flipped["Ready"]["lastTransitionTime"] == "1970-01-01T00:03:20Z"
    assert flipped["Progressing"]["status"] == "True"


def test_suspended_pipeline_is_neither_ready_nor_progressing() -> None:
    conds = by_type(conditions(records(*["Suspended"] * 5), True, 1, None, 0.0))
    assert (conds["Ready"]["status"], conds["Progressing"]["status"]) == ("False", "False")
    assert conds["Ready"]["reason"] == "Suspended"


def test_job_record_round_trips_through_the_status_entry() -> None:
    record = JobRecord(
        phase="BackOff",
        driver_pod="p",
        spec_hash="h",
        restarts=2,
        reason="DriverFailed",
        message="m",
        last_transition=1000.0,
        next_restart_at=1010.0,
        last_progress=990.0,
        executors="1/2",
        restart_nonce="1.0",
        node="n1",
    )
    entry = record_to_status(record, cores=3)
    assert entry["lastProgressTime"] == "1970-01-01T00:16:30Z"
    assert (entry["executors"], entry["restartNonce"], entry["node"]) == ("1/2", "1.0", "n1")
    assert entry["cores"] == 3
    assert entry["nextRestartTime"] == "1970-01-01T00:16:50Z"
    assert record_from_status(entry) == record
    assert record_from_status(None) == JobRecord()


def test_partial_capacity_is_not_ready_and_degraded() -> None:
    jobs = records(*["Running"] * 4 + ["RunningWithPartialCapacity"])
    conds = by_type(conditions(jobs, False, 3, None, 0.0))
    assert (conds["Ready"]["status"], conds["Degraded"]["status"]) == ("False", "True")
    assert ready_count(jobs) == "4/5"


def test_an_invalid_spec_is_not_ready_with_its_reason_and_generation() -> None:
    conds = by_type(invalid_spec_conditions("spec.x: bad", 4, None, 0.0))
    assert (conds["Ready"]["status"], conds["Ready"]["reason"], conds["Ready"]["message"]) == (
        "False",
        "InvalidSpec",
        "spec.x: bad",
    )
    assert conds["Degraded"]["status"] == "True"
    assert {c["observedGeneration"] for c in conds.values()} == {4}


def test_the_pipelines_gauge_reports_every_phase_the_crd_allows() -> None:
    from pathlib import Path

    import yaml
    from k2_operator import operator_metrics

    crd = yaml.safe_load(
        (Path(__file__).resolve().parents[3] / "crds" / "streamingpipelines.k2.dev.yaml").read_text()
    )
    status = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
    assert set(operator_metrics._PHASES) == set(status["properties"]["phase"]["enum"])


def test_every_job_phase_of_the_state_machine_is_in_the_crds_status_enum() -> None:
    from pathlib import Path

    import yaml
    from k2_operator.state_machine import JobPhase

    crd = yaml.safe_load(
        (Path(__file__).resolve().parents[3] / "crds" / "streamingpipelines.k2.dev.yaml").read_text()
    )
    status = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
    job = status["properties"]["jobs"]["additionalProperties"]["properties"]
    assert {phase.value for phase in JobPhase} == set(job["phase"]["enum"])
