"""The job state machine, transition by transition (pure: time is an argument)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from k2_operator.state_machine import (
    CreateDriver,
    DeleteDriver,
    Executors,
    JobDecision,
    JobPhase,
    JobRecord,
    JobSituation,
    ObservedDriver,
    RestartPolicy,
    decide_job,
    next_deadline,
    rolling_out,
    update_blockers,
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
    """A driver pod; a Running one is Ready unless ``ready=False`` (its readiness probe passes)."""
    kw.setdefault("ready", phase == "Running")
    return ObservedDriver(name=POD, phase=phase, spec_hash=spec_hash, created_at=created_at, **kw)


def recorded(phase: JobPhase, **kw: Any) -> JobRecord:
    base = JobRecord(phase=phase.value, driver_pod=POD, spec_hash=HASH, restart_nonce="0.0")
    return dataclasses.replace(base, **kw)


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
    from k2_operator.kube_io import failure_class

    def status(exit_code, reason="Error", message=None):
        """A pod's status as the API server sends it (plain JSON)."""
        terminated = {"exitCode": exit_code, "reason": reason, **({"message": message} if message else {})}
        return {
            "phase": "Failed",
            "containerStatuses": [{"name": "driver", "state": {"terminated": terminated}}],
        }

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


# --- issue 16: health that means something ------------------------------------------------------------


def test_a_running_driver_that_is_not_ready_is_starting_not_running() -> None:
    decision = decide_job(
        situation(
            pod("Running", ready=False, created_at=990.0),
            recorded(JobPhase.STARTING, reason="DriverStarting"),
        )
    )
    assert decision.record.phase == JobPhase.STARTING
    assert decision.record.reason == "DriverNotReady"
    assert decision.actions == ()


def test_a_driver_that_never_gets_ready_times_out_like_one_that_never_runs() -> None:
    late = decide_job(
        situation(pod("Running", ready=False, created_at=900.0), recorded(JobPhase.STARTING), now=961.0)
    )
    assert late.record.phase == JobPhase.BACKOFF
    assert reasons(late) == ["StartTimeout"]
    assert "not Ready after 60s" in late.record.message


def test_a_ready_driver_that_turns_unready_starts_its_own_timeout() -> None:
    running = recorded(JobPhase.RUNNING, last_transition=100.0)
    unready = decide_job(situation(pod("Running", ready=False, created_at=50.0), running, now=1000.0))
    assert (unready.record.phase, unready.record.reason) == (JobPhase.STARTING, "DriverNotReady")
    assert unready.record.last_transition == 1000.0
    still = decide_job(situation(pod("Running", ready=False, created_at=50.0), unready.record, now=1030.0))
    assert still.actions == () and still.record.phase == JobPhase.STARTING
    timed_out = decide_job(
        situation(pod("Running", ready=False, created_at=50.0), unready.record, now=1061.0)
    )
    assert reasons(timed_out) == ["StartTimeout"]


@pytest.mark.parametrize(
    "waiting", ["ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError", "Unschedulable"]
)
def test_waiting_reasons_show_at_once_with_a_warning_not_after_the_start_timeout(waiting: str) -> None:
    created = recorded(JobPhase.STARTING, reason="DriverCreated", last_transition=995.0)
    driver = pod("Pending", created_at=995.0, waiting_reason=waiting, waiting_message="details")
    decision = decide_job(situation(driver, created, now=996.0))
    assert (decision.record.phase, decision.record.reason) == (JobPhase.STARTING, waiting)
    assert [(e.type, e.reason) for e in decision.events] == [("Warning", waiting)]
    assert "details" in decision.record.message
    again = decide_job(situation(driver, decision.record, now=997.0))
    assert again.events == ()  # one Event per transition, not per reconciliation
    cleared = decide_job(situation(pod("Pending", created_at=995.0), decision.record, now=998.0))
    assert cleared.record.reason == "DriverStarting"


def test_a_fresh_drivers_executors_get_the_start_timeout_to_come_up() -> None:
    start = recorded(JobPhase.STARTING)
    waiting = decide_job(situation(pod(created_at=990.0), start, executors=Executors(0, 2)))
    assert (waiting.record.phase, waiting.record.reason) == (JobPhase.STARTING, "ExecutorsStarting")
    assert [e.type for e in waiting.events] == ["Normal"]
    assert waiting.record.executors == "0/2"
    late = decide_job(situation(pod(created_at=900.0), waiting.record, executors=Executors(1, 2), now=1000.0))
    assert (late.record.phase, late.record.reason) == (JobPhase.PARTIAL, "ExecutorsNotReady")
    assert [e.type for e in late.events] == ["Warning"]


def test_executors_below_the_plan_are_partial_capacity_and_all_up_is_running() -> None:
    start = recorded(JobPhase.STARTING)
    partial = decide_job(situation(pod(), start, executors=Executors(1, 2, "executor x Unschedulable")))
    assert partial.record.phase == JobPhase.PARTIAL
    assert partial.record.executors == "1/2"
    assert "Unschedulable" in partial.record.message
    full = decide_job(situation(pod(), partial.record, executors=Executors(2, 2), now=1001.0))
    assert (full.record.phase, full.record.executors) == (JobPhase.RUNNING, "2/2")
    lost_one = decide_job(situation(pod(), full.record, executors=Executors(1, 2), now=1002.0))
    assert [(e.type, e.reason) for e in lost_one.events] == [("Warning", "ExecutorsNotReady")]


def test_a_driver_without_progress_past_the_timeout_is_stalled_and_not_restarted() -> None:
    running = recorded(JobPhase.RUNNING, last_transition=0.0)
    fresh = pod(reports_progress=True, last_progress=900.0)
    ok = decide_job(situation(fresh, running, now=1000.0, progress_timeout_seconds=300))
    assert ok.record.phase == JobPhase.RUNNING and ok.record.last_progress == 900.0
    stale = pod(reports_progress=True, last_progress=600.0)
    stalled = decide_job(situation(stale, running, now=1000.0, progress_timeout_seconds=300))
    assert (stalled.record.phase, stalled.record.reason, stalled.actions) == (
        JobPhase.STALLED,
        "NoProgress",
        (),
    )
    never = decide_job(
        situation(pod(reports_progress=True), running, now=1000.0, progress_timeout_seconds=300)
    )
    assert never.record.phase == JobPhase.STALLED  # Running since 0, never reported
    # A driver started before progress reporting existed is never judged on it.
    assert (
        decide_job(situation(pod(), running, now=1000.0, progress_timeout_seconds=300)).record.phase
        == "Running"
    )
    back = decide_job(situation(fresh, stalled.record, now=1000.0, progress_timeout_seconds=300))
    assert back.record.phase == JobPhase.RUNNING


# --- issue 16: lost nodes and odd pod states ----------------------------------------------------------


def test_a_pod_in_phase_unknown_is_lost_at_once_and_deleted_after_the_grace() -> None:
    unknown = pod("Unknown", node_name="n1", node_state="NotReady")
    lost = decide_job(situation(unknown, recorded(JobPhase.RUNNING), now=1000.0, lost_grace_seconds=60))
    assert (lost.record.phase, lost.record.reason, lost.actions) == (JobPhase.LOST, "PodUnknown", ())
    assert [e.type for e in lost.events] == ["Warning"]
    waiting = decide_job(situation(unknown, lost.record, now=1059.0, lost_grace_seconds=60))
    assert waiting.actions == ()
    deleted = decide_job(situation(unknown, lost.record, now=1061.0, lost_grace_seconds=60))
    assert deleted.actions == (DeleteDriver(POD, "Lost", force=False),)  # the node may still run it


def test_a_driver_on_a_not_ready_node_is_lost_not_running() -> None:
    driver = pod("Running", ready=False, node_name="n1", node_state="NotReady")
    decision = decide_job(situation(driver, recorded(JobPhase.RUNNING)))
    assert (decision.record.phase, decision.record.reason) == (JobPhase.LOST, "NodeLost")
    assert decision.record.node == "n1"


def test_terminating_on_a_not_ready_node_waits_and_is_force_deleted_only_once_the_node_is_gone() -> None:
    stuck = pod(
        "Running",
        ready=False,
        terminating=True,
        node_name="n1",
        node_state="NotReady",
        deletion_deadline=950.0,
    )
    lost = decide_job(situation(stuck, recorded(JobPhase.RUNNING), now=1000.0, lost_grace_seconds=60))
    assert (lost.record.phase, lost.record.reason) == (JobPhase.LOST, "NodeLost")
    after_grace = decide_job(situation(stuck, lost.record, now=1100.0, lost_grace_seconds=60))
    assert after_grace.actions == ()  # never force-deleted while its node exists
    assert after_grace.record.reason == "AwaitingNodeRemoval"
    gone = dataclasses.replace(stuck, node_state="Gone")
    forced = decide_job(situation(gone, after_grace.record, now=1101.0, lost_grace_seconds=60))
    assert forced.actions == (DeleteDriver(POD, "NodeGone", force=True),)
    restarts_before = forced.record.restarts
    replaced = decide_job(situation(None, forced.record, now=1102.0, lost_grace_seconds=60))
    assert replaced.actions == (CreateDriver(restart=True),)
    assert replaced.record.reason == "DriverReplaced"
    assert replaced.record.restarts == restarts_before  # a lost node is not the job's failure


def test_a_pod_stuck_terminating_past_its_grace_period_is_lost() -> None:
    stuck = pod("Running", terminating=True, node_name="n1", node_state="Ready", deletion_deadline=900.0)
    decision = decide_job(situation(stuck, recorded(JobPhase.RUNNING), now=1000.0))
    assert (decision.record.phase, decision.record.reason) == (JobPhase.LOST, "StuckTerminating")
    within = dataclasses.replace(stuck, deletion_deadline=1010.0)
    assert decide_job(situation(within, recorded(JobPhase.PENDING), now=1000.0)).actions == ()


def test_next_deadline_covers_the_lost_grace_and_the_progress_timeout() -> None:
    lost = recorded(JobPhase.LOST, last_transition=100.0)
    assert next_deadline(lost, POLICY, 60, 300, 50) == 150.0
    running = recorded(JobPhase.RUNNING, last_transition=100.0, last_progress=200.0)
    assert next_deadline(running, POLICY, 60, 300, 50) == 500.0
    # A driver that never reported is not "due" at every tick.
    assert next_deadline(recorded(JobPhase.RUNNING, last_transition=100.0), POLICY, 60, 300, 50) is None


# --- issue 16: lifecycle ------------------------------------------------------------------------------


def test_a_clean_exit_is_a_failure_under_the_default_policy() -> None:
    from k2_operator.pipeline_spec import RestartPolicySpec

    assert RestartPolicySpec().type == "Always"
    decision = decide_job(situation(pod("Succeeded"), recorded(JobPhase.RUNNING), policy=RestartPolicy()))
    assert decision.record.phase == JobPhase.BACKOFF
    assert reasons(decision) == ["DriverExited"]


def test_a_restart_nonce_replaces_a_running_driver_with_a_fresh_budget() -> None:
    running = recorded(JobPhase.RUNNING, restarts=2)
    deleted = decide_job(situation(pod(), running, restart_nonce="1.0"))
    assert deleted.actions == (DeleteDriver(POD, "RestartRequested"),)
    assert (deleted.record.phase, deleted.record.restarts, deleted.record.restart_nonce) == (
        JobPhase.PENDING,
        0,
        "1.0",
    )
    created = decide_job(situation(None, deleted.record, restart_nonce="1.0", now=1001.0))
    assert created.actions == (CreateDriver(restart=False),)
    assert created.record.reason == "RestartRequested"
    # Once done, the same nonce restarts nothing again.
    assert decide_job(situation(pod(), created.record, restart_nonce="1.0", now=1002.0)).actions == ()


def test_a_restart_nonce_clears_failed() -> None:
    failed = recorded(JobPhase.FAILED, restarts=2, reason="RetriesExhausted")
    assert decide_job(situation(None, failed)).actions == ()
    decision = decide_job(situation(None, failed, restart_nonce="0.1"))
    assert decision.actions == (CreateDriver(restart=False),)
    assert (decision.record.phase, decision.record.restarts) == (JobPhase.STARTING, 0)


def test_a_record_from_an_older_operator_adopts_the_nonce_without_a_restart() -> None:
    old = recorded(JobPhase.RUNNING, restart_nonce=None)
    decision = decide_job(situation(pod(), old, restart_nonce="3.0"))
    assert decision.actions == ()
    assert decision.record.restart_nonce == "3.0"


def test_resume_resets_the_restart_budget() -> None:
    suspended = recorded(JobPhase.SUSPENDED, restarts=2)
    resumed = decide_job(situation(None, suspended))
    assert resumed.actions == (CreateDriver(restart=False),)
    assert (resumed.record.reason, resumed.record.restarts) == ("Resumed", 0)


@pytest.mark.parametrize(
    "driver",
    [pod("Pending", created_at=990.0), pod("Running"), pod("Running", terminating=True)],
    ids=["pending", "running", "terminating"],
)
def test_resume_resets_the_restart_budget_also_when_a_driver_outlived_the_suspension(driver) -> None:
    """A resume seen before the suspension's deletion went through (or with the operator down in
    between) finds a driver still there: the budget is fresh all the same."""
    suspended = recorded(JobPhase.SUSPENDED, restarts=2)
    resumed = decide_job(situation(driver, suspended))
    assert resumed.record.restarts == 0
    assert not any(isinstance(action, CreateDriver) for action in resumed.actions)  # one driver only


# --- issue 16: upgrades without a stampede ------------------------------------------------------------


def test_a_spec_change_waits_for_the_upstream_layer_then_replaces_the_driver() -> None:
    running = recorded(JobPhase.RUNNING, spec_hash="old")
    old_driver = pod(spec_hash="old")
    queued = decide_job(situation(old_driver, running, update_blocked_by=("silver-binance",)))
    assert queued.actions == ()
    assert (queued.record.phase, queued.record.reason, queued.record.spec_hash) == (
        "Running",
        "UpdateQueued",
        "old",
    )
    assert reasons(queued) == ["UpdateQueued"]
    assert (
        decide_job(situation(old_driver, queued.record, update_blocked_by=("silver-binance",))).events == ()
    )
    released = decide_job(situation(old_driver, queued.record))
    assert released.actions == (DeleteDriver(POD, "SpecChanged"),)
    # A driver that is not running anyway is replaced at once.
    failed_old = pod("Failed", spec_hash="old")
    assert decide_job(situation(failed_old, running, update_blocked_by=("bronze-binance",))).actions == (
        DeleteDriver(POD, "SpecChanged"),
    )


def test_update_blockers_are_the_unsettled_jobs_of_earlier_layers() -> None:
    unsettled = {"bronze-binance": "bronze", "silver-kraken": "silver"}
    assert update_blockers("bronze", unsettled) == ()
    assert update_blockers("silver", unsettled) == ("bronze-binance",)
    assert update_blockers("gold", unsettled) == ("bronze-binance", "silver-kraken")
    assert rolling_out(recorded(JobPhase.RUNNING), pod(spec_hash="old"), HASH)
    assert rolling_out(recorded(JobPhase.STARTING), pod("Pending"), HASH)
    assert not rolling_out(recorded(JobPhase.RUNNING), pod(), HASH)
    assert not rolling_out(recorded(JobPhase.FAILED), None, HASH)  # a Failed job holds nothing up
