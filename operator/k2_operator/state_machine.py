"""The job state machine: what one job's driver needs next, from what is observed and what was recorded.

Read top to bottom: :func:`decide_job` is the whole lifecycle of one job. It is pure: no API calls, no
clock (``now`` is an argument), so every transition is unit-tested.

Job phases (``status.jobs[<job>].phase``):

- ``Pending``   no driver yet; one is created at once (new job, or reason ``SpecChanged``: the old
                driver of a changed job is being removed and its replacement follows);
- ``Starting``  a driver pod exists and is not Running yet;
- ``Running``   the driver pod is Running (since ``lastTransitionTime``);
- ``BackOff``   the driver failed, was lost or did not start in time; restarted at ``nextRestartTime``;
- ``Failed``    restarts are exhausted (or the policy forbids them); stays until the job's spec changes;
- ``Succeeded`` the driver exited successfully under restart policy ``OnFailure`` or ``Never``;
- ``Suspended`` the pipeline is suspended: no driver, checkpoints kept.

The phase names are the CRD's status enum.

Only one driver per job exists at any time (fixed pod name): a replacement is created only once the
old pod is gone, so two drivers never write the same checkpoint.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum


class JobPhase(StrEnum):
    PENDING = "Pending"
    STARTING = "Starting"
    RUNNING = "Running"
    BACKOFF = "BackOff"
    FAILED = "Failed"
    SUCCEEDED = "Succeeded"
    SUSPENDED = "Suspended"


#: Phases in which the job's driver is expected to exist.
DRIVER_EXPECTED = (JobPhase.STARTING, JobPhase.RUNNING)


@dataclass(frozen=True)
class RestartPolicy:
    type: str = "Always"  # Never | OnFailure | Always
    max_retries: int = 5
    backoff_initial_seconds: float = 10
    backoff_max_seconds: float = 300
    reset_after_seconds: float = 600

    def delay(self, restarts_so_far: int) -> float:
        """Exponential backoff: initial, 2 x initial, 4 x initial, ... capped at the max."""
        return float(min(self.backoff_initial_seconds * 2**restarts_so_far, self.backoff_max_seconds))


@dataclass(frozen=True)
class ObservedDriver:
    """A driver pod as read from the API server."""

    name: str
    phase: str  # the pod's status.phase: Pending | Running | Succeeded | Failed | Unknown
    spec_hash: str | None
    created_at: float  # epoch seconds
    terminating: bool = False
    reason: str = ""  # why it failed, from the pod's status
    failure: str = ""  # the failure's class (contracts.DRIVER_FAILURE_REASONS) when the pod failed


@dataclass(frozen=True)
class JobRecord:
    """What the operator remembers of one job (persisted as ``status.jobs[<job>]``)."""

    phase: str = ""
    driver_pod: str = ""
    spec_hash: str = ""
    restarts: int = 0  # restarts since the counter was last reset (what maxRetries limits)
    reason: str = ""
    message: str = ""
    last_transition: float = 0.0  # when the job entered its phase (for Running: healthy since)
    next_restart_at: float | None = None


@dataclass(frozen=True)
class JobEvent:
    """An Event to post on the pipeline for a transition."""

    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass(frozen=True)
class CreateDriver:
    restart: bool  # True when this replaces a failed/lost driver (counted in the restart metric)


@dataclass(frozen=True)
class DeleteDriver:
    pod: str
    reason: str


Action = CreateDriver | DeleteDriver


@dataclass(frozen=True)
class JobDecision:
    record: JobRecord
    actions: tuple[Action, ...] = ()
    events: tuple[JobEvent, ...] = ()


@dataclass(frozen=True)
class JobSituation:
    """The inputs of one decision."""

    job: str
    desired_hash: str
    pod_name: str
    driver: ObservedDriver | None
    record: JobRecord
    policy: RestartPolicy
    start_timeout_seconds: float
    suspended: bool
    now: float


def decide_job(s: JobSituation) -> JobDecision:
    record, driver = s.record, s.driver

    # 1. Suspended: remove the driver, keep everything else (checkpoints live in storage).
    if s.suspended:
        actions: tuple[Action, ...] = ()
        if driver is not None and not driver.terminating:
            actions = (DeleteDriver(driver.name, "Suspended"),)
        return _to(s, JobPhase.SUSPENDED, "Suspended", "pipeline suspended; checkpoints kept", actions)

    # 2. The old driver is still shutting down: a new one must wait (one driver per checkpoint).
    if driver is not None and driver.terminating:
        return JobDecision(record)

    # 3. A spec change replaces the driver (not counted as a restart) and clears Failed/BackOff.
    if driver is not None and driver.spec_hash != s.desired_hash:
        return _to(
            s,
            JobPhase.PENDING,
            "SpecChanged",
            f"spec hash {driver.spec_hash} -> {s.desired_hash}: replacing the driver",
            (DeleteDriver(driver.name, "SpecChanged"),),
            restarts=0,
        )
    same_spec = record.spec_hash == s.desired_hash

    # 4. Failed (or Completed) stays so until the spec changes.
    if record.phase in (JobPhase.FAILED, JobPhase.SUCCEEDED) and same_spec:
        return JobDecision(record)

    # 5. Backing off: restart when due (first remove the failed driver, then create the new one).
    if record.phase == JobPhase.BACKOFF and same_spec:
        if driver is not None and driver.created_at > record.last_transition:
            # The replacement exists already: created by a run that crashed before recording it.
            return _to(s, JobPhase.STARTING, "DriverRestarted", f"adopted replacement driver {driver.name}")
        if record.next_restart_at is not None and s.now < record.next_restart_at:
            return JobDecision(record)
        if driver is not None:
            return JobDecision(record, (DeleteDriver(driver.name, "Restart"),))
        return _create(s, restart=True)

    # 6. No driver.
    if driver is None:
        if record.phase in DRIVER_EXPECTED and same_spec:
            return _failure(s, "DriverDeleted", f"driver pod {s.pod_name} disappeared")
        return _create(s, restart=False)

    # 7. The driver exists with the desired spec: follow its pod phase.
    if driver.phase == "Failed":
        return _failure(s, "DriverFailed", f"driver pod {driver.name} failed: {driver.reason or 'no reason'}")
    if driver.phase == "Succeeded":
        if s.policy.type == "Always":
            return _failure(s, "DriverExited", f"driver pod {driver.name} exited; streaming jobs run forever")
        return _to(s, JobPhase.SUCCEEDED, "DriverSucceeded", f"driver pod {driver.name} exited successfully")
    if driver.phase == "Running":
        return _running(s, driver)
    # Pending or Unknown.
    if s.now - driver.created_at > s.start_timeout_seconds:
        return _failure(
            s, "StartTimeout", f"driver pod {driver.name} not Running after {s.start_timeout_seconds:.0f}s"
        )
    if record.phase != JobPhase.STARTING or not same_spec:
        # Adopted after an operator restart, or created by a run that crashed before recording it.
        return _to(s, JobPhase.STARTING, "DriverStarting", f"driver pod {driver.name} is starting")
    return JobDecision(record)


def next_deadline(record: JobRecord, policy: RestartPolicy, start_timeout_seconds: float) -> float | None:
    """When this job's next time-driven transition falls due (backoff over, start timeout, healthy
    reset), or None: lets a periodic check skip reconciling pipelines where nothing can be due."""
    if record.phase == JobPhase.BACKOFF:
        return record.next_restart_at if record.next_restart_at is not None else record.last_transition
    if record.phase == JobPhase.STARTING:
        return record.last_transition + start_timeout_seconds
    if record.phase == JobPhase.RUNNING and record.restarts > 0:
        return record.last_transition + policy.reset_after_seconds
    return None


def _running(s: JobSituation, driver: ObservedDriver) -> JobDecision:
    record = s.record
    if record.phase != JobPhase.RUNNING or record.spec_hash != s.desired_hash:
        return _to(s, JobPhase.RUNNING, "DriverRunning", f"driver pod {driver.name} is Running")
    healthy_for = s.now - record.last_transition
    if record.restarts > 0 and healthy_for >= s.policy.reset_after_seconds:
        reset = dataclasses.replace(record, restarts=0)
        event = JobEvent("Normal", "RestartCountReset", f"{s.job}: healthy for {healthy_for:.0f}s")
        return JobDecision(reset, (), (event,))
    return JobDecision(record)


def _create(s: JobSituation, *, restart: bool) -> JobDecision:
    if restart:
        reason, message = "DriverRestarted", f"restart {s.record.restarts}/{s.policy.max_retries}"
    elif s.record.phase == JobPhase.SUSPENDED:
        reason, message = "Resumed", "pipeline resumed; continuing from checkpoints"
    elif s.record.reason == "SpecChanged":
        reason, message = "DriverUpdated", f"new driver with spec hash {s.desired_hash}"
    else:
        reason, message = "DriverCreated", f"driver pod {s.pod_name} created"
    # A new spec starts with a fresh restart budget.
    restarts = s.record.restarts if restart or s.record.spec_hash == s.desired_hash else 0
    return _to(
        s,
        JobPhase.STARTING,
        reason,
        message,
        (CreateDriver(restart=restart),),
        next_restart_at=None,
        restarts=restarts,
    )


def _failure(s: JobSituation, reason: str, message: str) -> JobDecision:
    """A driver failed, vanished or did not start: restart with backoff, or give up."""
    record, policy = s.record, s.policy
    if policy.type == "Never":
        return _to(s, JobPhase.FAILED, reason, f"{message}; restartPolicy Never", warning=True)
    if record.restarts >= policy.max_retries:
        return _to(
            s,
            JobPhase.FAILED,
            "RetriesExhausted",
            f"{message}; gave up after {record.restarts} restarts (maxRetries {policy.max_retries})",
            warning=True,
        )
    delay = policy.delay(record.restarts)
    return _to(
        s,
        JobPhase.BACKOFF,
        reason,
        f"{message}; restart {record.restarts + 1}/{policy.max_retries} in {delay:.0f}s",
        warning=True,
        restarts=record.restarts + 1,
        next_restart_at=s.now + delay,
    )


def _to(
    s: JobSituation,
    phase: JobPhase,
    reason: str,
    message: str,
    actions: tuple[Action, ...] = (),
    *,
    warning: bool = False,
    **changes: object,
) -> JobDecision:
    """Move the job to ``phase``; post an Event only when something a user sees changed."""
    old = s.record
    fields: dict[str, object] = {
        "phase": phase.value,
        "reason": reason,
        "message": message,
        "spec_hash": s.desired_hash,
        "driver_pod": s.pod_name,
        **changes,
    }
    record = dataclasses.replace(old, **fields)  # type: ignore[arg-type]
    changed = (old.phase, old.reason, old.spec_hash) != (record.phase, record.reason, record.spec_hash)
    if not changed and not actions:
        return JobDecision(old)
    record = dataclasses.replace(
        record, last_transition=s.now if old.phase != record.phase else old.last_transition
    )
    event = JobEvent("Warning" if warning else "Normal", reason, f"{s.job}: {message}")
    return JobDecision(record, actions, (event,) if changed else ())
