"""The job state machine, transition by transition (pure: time is an argument)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from k2_operator.state_machine import (
    CreateDriver,
    DeleteDriver,
    JobDecision,
    JobPhase,
    JobRecord,
    JobSituation,
    ObservedDriver,
    RestartPolicy,
    decide_job,
    next_deadline,
)

pytestmark = pytest.mark.unit

POD = "prod-gold-driver"
HASH = "aaaa"
POLICY = RestartPolicy(
    type="Always", max_retries=2, backoff_initial_seconds=10, backoff_max_seconds=15, reset_after_seconds=100
)


def situation(
    driver: ObservedDriver | None = None, record: JobRecord | None = None, now: float = 1000.0, **kw: object
) -> JobSituation:
    values: dict[str, Any] = {
        "job": "gold",
        "desired_hash": HASH,
        "pod_name": POD,
        "driver": driver,
        "record": record or JobRecord(),
        "policy": POLICY,
        "start_timeout_seconds": 60.0,
        "suspended": False,
        "now": now,
    }
    values.update(kw)
    return JobSituation(**values)


def pod(
    phase: str = "Running", spec_hash: str | None = HASH, created_at: float = 900.0, **kw: Any
) -> ObservedDriver:
    return ObservedDriver(name=POD, phase=phase, spec_hash=spec_hash, created_at=created_at, **kw)


def recorded(phase: JobPhase, **kw: Any) -> JobRecord:
    return dataclasses.replace(JobRecord(phase=phase.value, driver_pod=POD, spec_hash=HASH), **kw)


def reasons(decision: JobDecision) -> list[str]:
    return [event.reason for event in decision.events]


def test_new_job_gets_a_driver_and_an_event() -> None:
    decision = decide_job(situation())
    assert decision.actions == (CreateDriver(restart=False),)
    assert decision.record.phase == JobPhase.STARTING
    assert decision.record.spec_hash == HASH
    assert reasons(decision) == ["DriverCreated"]


def test_pending_driver_that_was_just_created_needs_nothing() -> None:
    record = recorded(JobPhase.STARTING)
    decision = decide_job(situation(pod("Pending", created_at=990.0), record))
    assert decision == JobDecision(record)


def test_running_driver_moves_the_job_to_running_once() -> None:
    first = decide_job(situation(pod("Running"), recorded(JobPhase.STARTING)))
    assert first.record.phase == JobPhase.RUNNING
    assert first.record.last_transition == 1000.0
    assert reasons(first) == ["DriverRunning"]
    again = decide_job(situation(pod("Running"), first.record, now=1005.0))
    assert again == JobDecision(first.record)


def test_failed_driver_backs_off_exponentially_then_gives_up() -> None:
    record = recorded(JobPhase.RUNNING, last_transition=950.0)
    failed = decide_job(situation(pod("Failed", reason="Error"), record, now=1000.0))
    assert failed.record.phase == JobPhase.BACKOFF
    assert failed.record.restarts == 1
    assert failed.record.next_restart_at == 1010.0  # initial backoff
    assert failed.actions == ()
    assert [e.type for e in failed.events] == ["Warning"]

    waiting = decide_job(situation(pod("Failed"), failed.record, now=1009.0))
    assert waiting.actions == ()
    removing = decide_job(situation(pod("Failed"), failed.record, now=1010.0))
    assert removing.actions == (DeleteDriver(POD, "Restart"),)
    restarted = decide_job(situation(None, failed.record, now=1011.0))
    assert restarted.actions == (CreateDriver(restart=True),)
    assert reasons(restarted) == ["DriverRestarted"]

    second = decide_job(situation(pod("Failed", created_at=1011.0), restarted.record, now=1020.0))
    assert second.record.restarts == 2
    assert second.record.next_restart_at == 1020.0 + 15.0  # 20 s capped at the 15 s maximum

    restarted_again = decide_job(situation(None, second.record, now=1040.0))
    third = decide_job(situation(pod("Failed", created_at=1040.0), restarted_again.record, now=1050.0))
    assert third.record.phase == JobPhase.FAILED
    assert third.record.reason == "RetriesExhausted"
    assert third.actions == ()
    assert decide_job(situation(pod("Failed"), third.record, now=5000.0)) == JobDecision(third.record)


def test_restart_policy_never_fails_the_job_at_the_first_failure() -> None:
    decision = decide_job(
        situation(pod("Failed"), recorded(JobPhase.RUNNING), policy=dataclasses.replace(POLICY, type="Never"))
    )
    assert decision.record.phase == JobPhase.FAILED
    assert decision.actions == ()


def test_exited_driver_restarts_under_always_and_completes_under_on_failure() -> None:
    always = decide_job(situation(pod("Succeeded"), recorded(JobPhase.RUNNING)))
    assert always.record.phase == JobPhase.BACKOFF
    on_failure = decide_job(
        situation(
            pod("Succeeded"), recorded(JobPhase.RUNNING), policy=dataclasses.replace(POLICY, type="OnFailure")
        )
    )
    assert on_failure.record.phase == JobPhase.SUCCEEDED


def test_deleted_driver_counts_as_a_failure_and_is_recreated_after_backoff() -> None:
    lost = decide_job(situation(None, recorded(JobPhase.RUNNING)))
    assert lost.record.phase == JobPhase.BACKOFF
    assert lost.record.reason == "DriverDeleted"
    assert decide_job(situation(None, lost.record, now=1010.0)).actions == (CreateDriver(restart=True),)


def test_restart_counter_resets_after_a_healthy_period() -> None:
    record = recorded(JobPhase.RUNNING, restarts=2, last_transition=1000.0)
    early = decide_job(situation(pod("Running"), record, now=1099.0))
    assert early.record.restarts == 2
    late = decide_job(situation(pod("Running"), record, now=1100.0))
    assert late.record.restarts == 0
    assert reasons(late) == ["RestartCountReset"]


def test_driver_stuck_pending_past_the_start_timeout_is_restarted() -> None:
    record = recorded(JobPhase.STARTING)
    in_time = decide_job(situation(pod("Pending", created_at=1000.0), record, now=1060.0))
    assert in_time == JobDecision(record)
    timed_out = decide_job(situation(pod("Pending", created_at=1000.0), record, now=1061.0))
    assert timed_out.record.phase == JobPhase.BACKOFF
    assert timed_out.record.reason == "StartTimeout"
    assert reasons(timed_out) == ["StartTimeout"]
    due = decide_job(situation(pod("Pending", created_at=1000.0), timed_out.record, now=1071.0))
    assert due.actions == (DeleteDriver(POD, "Restart"),)


def test_spec_change_replaces_only_a_driver_with_a_stale_hash_and_resets_the_budget() -> None:
    record = recorded(JobPhase.RUNNING, restarts=1, last_transition=10.0)
    unchanged = decide_job(situation(pod("Running"), record))
    assert unchanged.actions == ()
    changed = decide_job(situation(pod("Running", spec_hash="old"), record))
    assert changed.actions == (DeleteDriver(POD, "SpecChanged"),)
    assert changed.record.phase == JobPhase.PENDING
    assert changed.record.reason == "SpecChanged"
    assert changed.record.restarts == 0
    recreated = decide_job(situation(None, changed.record))
    assert recreated.actions == (CreateDriver(restart=False),)
    assert reasons(recreated) == ["DriverUpdated"]


def test_failed_job_gets_a_fresh_start_when_its_spec_changes() -> None:
    failed = recorded(JobPhase.FAILED, restarts=2, spec_hash="old", reason="RetriesExhausted")
    decision = decide_job(situation(None, failed))
    assert decision.actions == (CreateDriver(restart=False),)
    assert decision.record.restarts == 0


def test_suspend_removes_the_driver_and_resume_creates_it_again() -> None:
    running = recorded(JobPhase.RUNNING)
    suspending = decide_job(situation(pod("Running"), running, suspended=True))
    assert suspending.actions == (DeleteDriver(POD, "Suspended"),)
    assert suspending.record.phase == JobPhase.SUSPENDED
    assert reasons(suspending) == ["Suspended"]
    suspended = decide_job(situation(None, suspending.record, suspended=True))
    assert suspended == JobDecision(suspending.record)
    resumed = decide_job(situation(None, suspending.record))
    assert resumed.actions == (CreateDriver(restart=False),)
    assert reasons(resumed) == ["Resumed"]


def test_a_terminating_driver_is_waited_for_never_duplicated() -> None:
    record = recorded(JobPhase.PENDING, reason="SpecChanged")
    decision = decide_job(situation(pod("Running", spec_hash="old", terminating=True), record))
    assert decision == JobDecision(record)


def test_after_an_operator_restart_existing_drivers_are_adopted_not_recreated() -> None:
    running = decide_job(situation(pod("Running"), JobRecord()))
    assert running.actions == ()
    assert running.record.phase == JobPhase.RUNNING
    pending = decide_job(situation(pod("Pending", created_at=990.0), JobRecord()))
    assert pending.actions == ()
    assert pending.record.phase == JobPhase.STARTING


def test_a_replacement_created_by_a_crashed_run_is_adopted_not_deleted() -> None:
    backing_off = recorded(JobPhase.BACKOFF, restarts=1, last_transition=1000.0, next_restart_at=1010.0)
    decision = decide_job(situation(pod("Pending", created_at=1010.0), backing_off, now=1012.0))
    assert decision.actions == ()
    assert decision.record.phase == JobPhase.STARTING


def test_backoff_delay_doubles_and_is_capped() -> None:
    policy = RestartPolicy(backoff_initial_seconds=5, backoff_max_seconds=60)
    assert [policy.delay(n) for n in range(6)] == [5, 10, 20, 40, 60, 60]


def test_next_deadline_is_when_a_time_driven_transition_falls_due() -> None:
    assert next_deadline(recorded(JobPhase.BACKOFF, next_restart_at=1010.0), POLICY, 60) == 1010.0
    assert next_deadline(recorded(JobPhase.STARTING, last_transition=1000.0), POLICY, 60) == 1060.0
    assert next_deadline(recorded(JobPhase.RUNNING, restarts=1, last_transition=1000.0), POLICY, 60) == 1100.0
    assert next_deadline(recorded(JobPhase.RUNNING, restarts=0, last_transition=1000.0), POLICY, 60) is None
    assert next_deadline(recorded(JobPhase.FAILED), POLICY, 60) is None
    assert next_deadline(recorded(JobPhase.SUSPENDED), POLICY, 60) is None


def test_a_failed_driver_is_classified_by_its_termination_message_then_its_pod():
    from types import SimpleNamespace

    from k2_operator.kube_io import failure_class

    def status(exit_code, reason="Error", message=None):
        terminated = SimpleNamespace(exit_code=exit_code, reason=reason, message=message)
        return SimpleNamespace(
            container_statuses=[SimpleNamespace(state=SimpleNamespace(terminated=terminated))]
        )

    assert (
        failure_class(status(1, message="checkpoint_write_failed\nIOException")) == "checkpoint_write_failed"
    )
    assert failure_class(status(1, message="batch_failed\n")) == "batch_failed"
    assert failure_class(status(137, reason="OOMKilled")) == "oom_killed"
    assert failure_class(status(1, message="something else")) == "error"
    assert failure_class(status(0, reason="Completed")) == ""
    assert failure_class(None) == ""


def test_the_reconciler_counts_each_failure_once_with_its_reason() -> None:
    from k2_operator.reconciler import failure_of

    failed = pod("Failed", reason="Error (exit code 1)", failure="checkpoint_write_failed")
    decision = decide_job(situation(failed, recorded(JobPhase.RUNNING)))
    assert failure_of(decision, failed) == "checkpoint_write_failed"
    assert failure_of(decision, pod("Failed")) == "error"  # a pod that tells nothing more
    gone = decide_job(situation(None, recorded(JobPhase.RUNNING)))
    assert failure_of(gone, None) == "deleted"
    late = decide_job(situation(pod("Pending", created_at=900.0), recorded(JobPhase.STARTING)))
    assert failure_of(late, None) == "start_timeout"
    # Backing off from that failure is not a second one.
    waiting = decide_job(situation(failed, decision.record, now=1001.0))
    assert failure_of(waiting, failed) == ""
