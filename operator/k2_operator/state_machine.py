"""The job state machine: what one job's driver needs next, from what is observed and what was recorded.

Read top to bottom: :func:`decide_job` is the whole lifecycle of one job. It is pure: no API calls, no
clock (``now`` is an argument), so every transition is unit-tested.

Job phases (``status.jobs[<job>].phase``):

- ``Pending``   no driver yet; one is created at once (new job, or reason ``SpecChanged``: the old
                driver of a changed job is being removed and its replacement follows);
- ``Starting``  a driver pod exists and is not Running and Ready yet; a waiting reason the pod shows
                (ImagePullBackOff, CreateContainerConfigError, Unschedulable, ...) becomes the job's
                reason at once, with a Warning Event, not only after the start timeout;
- ``Running``   the driver pod is Running and Ready (its readiness probe on the metrics port passes),
                every planned executor is Ready and the query reports progress;
- ``RunningWithPartialCapacity``  the driver is Running and Ready but fewer executors than planned are
                (a fresh driver's executors get until the start timeout: ``Starting``,
                ``ExecutorsStarting`` meanwhile);
- ``Stalled``   the driver is Running and Ready but its query reported no progress (the driver's
                ``k2.dev/last-progress`` annotation) for ``progressTimeoutSeconds``: reported, not restarted;
- ``Lost``      the driver is on a NotReady or deleted node, in pod phase Unknown, or stuck Terminating;
                replaced after ``driverLostGraceSeconds``: deleted, and force-deleted only once its
                Node object is gone (a partitioned node may still run it: two drivers must never
                write one checkpoint);
- ``BackOff``   the driver failed, was lost or did not start in time; restarted at ``nextRestartTime``;
- ``Failed``    restarts are exhausted (or the policy forbids them); stays until the job's spec changes;
- ``Succeeded`` the driver exited successfully under restart policy ``OnFailure`` or ``Never`` (under
                ``Always``, the default, a streaming driver's clean exit is a failure to restart);
- ``Suspended`` the pipeline is suspended: no driver, checkpoints kept.

The phase names are the CRD's status enum.

Only one driver per job exists at any time (fixed pod name): a replacement is created only once the
old pod is gone, so two drivers never write the same checkpoint.

A change of the job's restart nonce (``spec.restartNonce``, ``spec.jobs.<job>.restartNonce``) replaces the
driver at once, with a fresh restart budget, and clears Failed; so does resuming a suspended pipeline.
A spec change of a job whose upstream layer is still rolling out is queued (``UpdateQueued``): the
reconciler passes the upstream jobs that have not reached their new spec, so Bronze is replaced before
Silver, and Silver before Gold.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class JobPhase(StrEnum):
    PENDING = "Pending"
    STARTING = "Starting"
    RUNNING = "Running"
    PARTIAL = "RunningWithPartialCapacity"
    STALLED = "Stalled"
    LOST = "Lost"
    BACKOFF = "BackOff"
    FAILED = "Failed"
    SUCCEEDED = "Succeeded"
    SUSPENDED = "Suspended"


#: A pod still Terminating this long after its grace period ended is stuck (the kubelet kills the
#: container at the end of the grace period; removing the pod object takes a few seconds more).
TERMINATING_SLACK_SECONDS = 30

#: Phases of a job whose driver is Running and Ready.
RUNNING_PHASES = (JobPhase.RUNNING, JobPhase.PARTIAL, JobPhase.STALLED)
#: Phases in which the job's driver is expected to exist.
DRIVER_EXPECTED = (JobPhase.STARTING, *RUNNING_PHASES)

#: Why a pod is not starting, as its container's waiting state or its PodScheduled condition says:
#: these become the job's reason (with a Warning Event) as soon as they show.
WAITING_PROBLEMS = frozenset(
    {
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "ErrImageNeverPull",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
        "Unschedulable",
    }
)


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
    ready: bool = False  # the pod's Ready condition (the readiness probe on the metrics port)
    waiting_reason: str = ""  # why it is not running yet (container waiting reason, Unschedulable)
    waiting_message: str = ""
    node_name: str = ""
    #: The driver's node: Ready | NotReady | Gone (the Node object is deleted) | "" (not read/unknown).
    node_state: str = ""
    #: When the pod's deletion grace period ends (its deletionTimestamp), for a terminating pod.
    deletion_deadline: float | None = None
    #: The driver's own report of its query's last progress (k2.dev/last-progress annotation).
    last_progress: float | None = None
    #: The driver was started to report progress (drivers created before that never do).
    reports_progress: bool = False
    uid: str = ""


@dataclass(frozen=True)
class Executors:
    """The job's executor pods against the plan."""

    ready: int
    planned: int
    pending_reason: str = ""  # why one is not up (e.g. Unschedulable: 0/3 nodes are available)


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
    last_progress: float | None = None
    executors: str = ""  # "ready/planned"
    #: The restart nonce the current driver was started under (None: recorded by an older operator).
    restart_nonce: str | None = None
    node: str = ""


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
    force: bool = False  # grace period 0: only for a driver whose Node object is gone


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
    executors: Executors | None = None
    progress_timeout_seconds: float = 600
    lost_grace_seconds: float = 300
    restart_nonce: str = "0.0"
    #: Upstream jobs still rolling out a spec change: this job's own change waits for them.
    update_blocked_by: tuple[str, ...] = ()


def decide_job(s: JobSituation) -> JobDecision:
    """The next step of one job; the record also carries what was observed (executors, progress)."""
    decision = _decide(s)
    return dataclasses.replace(decision, record=_observed(s, decision.record))


_LAYER_RANK = {"bronze": 0, "silver": 1, "gold": 2}
#: Job phases of a job whose (re)start is under way: downstream spec changes wait for it.
_ROLLING = (JobPhase.PENDING, JobPhase.STARTING, JobPhase.BACKOFF)


def rolling_out(record: JobRecord, driver: ObservedDriver | None, desired_hash: str) -> bool:
    """True while a job has not settled on its desired spec: its driver still has the old spec, or a
    driver is being (re)started. A Failed, Lost or Stalled job holds nothing up."""
    return (driver is not None and driver.spec_hash != desired_hash) or record.phase in _ROLLING


def update_blockers(layer: str, unsettled: Mapping[str, str]) -> tuple[str, ...]:
    """The jobs of earlier layers (``unsettled``: job -> its layer) that a job of ``layer`` waits for
    before its running driver is replaced: Bronze first, then Silver, then Gold."""
    return tuple(sorted(job for job, other in unsettled.items() if _LAYER_RANK[other] < _LAYER_RANK[layer]))


def _decide(s: JobSituation) -> JobDecision:
    record, driver = s.record, s.driver
    nonce_changed = bool(record.phase) and record.restart_nonce not in (None, s.restart_nonce)

    # 1. Suspended: remove the driver, keep everything else (checkpoints live in storage).
    if s.suspended:
        actions: tuple[Action, ...] = ()
        if driver is not None and not driver.terminating:
            actions = (DeleteDriver(driver.name, "Suspended"),)
        return _to(s, JobPhase.SUSPENDED, "Suspended", "pipeline suspended; checkpoints kept", actions)

    # A resume starts with a fresh restart budget, also when a driver outlived the suspension (the
    # resume came before the suspension's deletion went through, or while the operator was down).
    if record.phase == JobPhase.SUSPENDED and record.restarts:
        record = dataclasses.replace(record, restarts=0)
        s = dataclasses.replace(s, record=record)

    # 2. The old driver is still shutting down: a new one must wait (one driver per checkpoint). A pod
    #    past its deletion deadline, or on a lost node, is reported as Lost.
    if driver is not None and driver.terminating:
        if driver.node_state in ("NotReady", "Gone"):
            return _lost(s, driver, "NodeLost", f"node {driver.node_name} is {driver.node_state}")
        if (
            driver.deletion_deadline is not None
            and s.now > driver.deletion_deadline + TERMINATING_SLACK_SECONDS
        ):
            return _lost(
                s,
                driver,
                "StuckTerminating",
                f"still Terminating {s.now - driver.deletion_deadline:.0f}s past its grace period",
            )
        return JobDecision(record)

    # 3. A restart on request (the restart nonce changed): a fresh budget, Failed cleared.
    if nonce_changed and driver is not None:
        return _to(
            s,
            JobPhase.PENDING,
            "RestartRequested",
            f"restart nonce {record.restart_nonce} -> {s.restart_nonce}: replacing the driver",
            (DeleteDriver(driver.name, "RestartRequested"),),
            restarts=0,
            restart_nonce=s.restart_nonce,
        )
    if nonce_changed:
        return _create(s, restart=False, reason="RestartRequested")

    # 4. A spec change replaces the driver (not counted as a restart) and clears Failed/BackOff; a
    #    running driver waits while an upstream layer is still rolling out its own change.
    if driver is not None and driver.spec_hash != s.desired_hash:
        if s.update_blocked_by and driver.phase == "Running":
            return _queued(s, driver)
        return _to(
            s,
            JobPhase.PENDING,
            "SpecChanged",
            f"spec hash {driver.spec_hash} -> {s.desired_hash}: replacing the driver",
            (DeleteDriver(driver.name, "SpecChanged"),),
            restarts=0,
        )
    same_spec = record.spec_hash == s.desired_hash

    # 5. Failed (or Succeeded) stays so until the spec or the restart nonce changes.
    if record.phase in (JobPhase.FAILED, JobPhase.SUCCEEDED) and same_spec:
        return JobDecision(record)

    # 6. Backing off: restart when due (first remove the failed driver, then create the new one).
    if record.phase == JobPhase.BACKOFF and same_spec:
        if driver is not None and driver.created_at > record.last_transition:
            # The replacement exists already: created by a run that crashed before recording it.
            return _to(s, JobPhase.STARTING, "DriverRestarted", f"adopted replacement driver {driver.name}")
        if record.next_restart_at is not None and s.now < record.next_restart_at:
            return JobDecision(record)
        if driver is not None:
            return JobDecision(record, (DeleteDriver(driver.name, "Restart"),))
        return _create(s, restart=True)

    # 7. No driver.
    if driver is None:
        if record.phase == JobPhase.LOST and same_spec:
            return _create(s, restart=True, reason="DriverReplaced")
        if record.phase in DRIVER_EXPECTED and same_spec:
            return _failure(s, "DriverDeleted", f"driver pod {s.pod_name} disappeared")
        return _create(s, restart=False)

    # 8. The driver exists with the desired spec: follow its pod and its node.
    if driver.phase == "Unknown":
        return _lost(s, driver, "PodUnknown", f"driver pod {driver.name} is in phase Unknown")
    if driver.node_state in ("NotReady", "Gone") and driver.phase in ("Pending", "Running"):
        return _lost(s, driver, "NodeLost", f"node {driver.node_name} is {driver.node_state}")
    if driver.phase == "Failed":
        return _failure(s, "DriverFailed", f"driver pod {driver.name} failed: {driver.reason or 'no reason'}")
    if driver.phase == "Succeeded":
        if s.policy.type == "Always":
            return _failure(s, "DriverExited", f"driver pod {driver.name} exited; streaming jobs run forever")
        return _to(s, JobPhase.SUCCEEDED, "DriverSucceeded", f"driver pod {driver.name} exited successfully")
    if driver.phase == "Running" and driver.ready:
        return _running(s, driver)
    return _starting(s, driver)


def _starting(s: JobSituation, driver: ObservedDriver) -> JobDecision:
    """Pending, or Running but not Ready: waiting reasons show at once; the start timeout counts from
    the pod's creation (or from when a Running driver stopped being Ready)."""
    record = s.record
    same_spec = record.spec_hash == s.desired_hash
    if driver.phase == "Running" and record.phase in RUNNING_PHASES and same_spec:
        return _to(
            s, JobPhase.STARTING, "DriverNotReady", f"driver pod {driver.name} is Running but not Ready"
        )
    since = driver.created_at
    if record.phase == JobPhase.STARTING and record.reason == "DriverNotReady" and same_spec:
        since = record.last_transition
    waiting = f" ({driver.waiting_reason}: {driver.waiting_message})" if driver.waiting_reason else ""
    if s.now - since > s.start_timeout_seconds:
        ready = "Ready" if driver.phase == "Running" else "Running"
        return _failure(
            s,
            "StartTimeout",
            f"driver pod {driver.name} not {ready} after {s.start_timeout_seconds:.0f}s{waiting}",
        )
    if driver.waiting_reason in WAITING_PROBLEMS:
        message = f"driver pod {driver.name} cannot start: {driver.waiting_reason}: {driver.waiting_message}"
        return _to(s, JobPhase.STARTING, driver.waiting_reason, message.rstrip(": "), warning=True)
    if driver.phase == "Running" and (record.reason != "DriverNotReady" or record.phase != JobPhase.STARTING):
        return _to(
            s, JobPhase.STARTING, "DriverNotReady", f"driver pod {driver.name} is Running, not Ready yet"
        )
    if driver.phase != "Running" and (
        record.phase != JobPhase.STARTING or not same_spec or record.reason in WAITING_PROBLEMS
    ):
        # Adopted after an operator restart, created by a run that crashed before recording it, or a
        # waiting problem that cleared.
        return _to(s, JobPhase.STARTING, "DriverStarting", f"driver pod {driver.name} is starting")
    return JobDecision(record)


def _lost(s: JobSituation, driver: ObservedDriver, reason: str, message: str) -> JobDecision:
    """Reported at once; after the grace period deleted, and force-deleted only when its node is gone."""
    record = s.record
    if record.phase != JobPhase.LOST:
        return _to(
            s, JobPhase.LOST, reason, f"{message}; replaced after {s.lost_grace_seconds:.0f}s", warning=True
        )
    if s.now - record.last_transition < s.lost_grace_seconds:
        return JobDecision(record)
    if driver.node_state == "Gone":
        return _to(
            s,
            JobPhase.LOST,
            "ForceDeleted",
            f"node {driver.node_name} is gone: driver pod {driver.name} force-deleted",
            (DeleteDriver(driver.name, "NodeGone", force=True),),
            warning=True,
        )
    if not driver.terminating:
        return _to(
            s,
            JobPhase.LOST,
            "LostDriverDeleted",
            f"{message}: driver pod {driver.name} deleted after {s.lost_grace_seconds:.0f}s; the replacement "
            "follows once the pod is gone (its node back, or its Node object deleted)",
            (DeleteDriver(driver.name, "Lost"),),
            warning=True,
        )
    return _to(
        s,
        JobPhase.LOST,
        "AwaitingNodeRemoval",
        f"{message}: driver pod {driver.name} still Terminating; waiting for its node to come back or its "
        "Node object to be deleted (never force-deleted while the node may still run it)",
        warning=True,
    )


def _queued(s: JobSituation, driver: ObservedDriver) -> JobDecision:
    """The running driver keeps its old spec until the upstream jobs run the new one."""
    record = s.record
    waiting = ", ".join(s.update_blocked_by)
    if record.reason == "UpdateQueued":
        return JobDecision(record)
    queued = dataclasses.replace(
        record, reason="UpdateQueued", message=f"spec change queued until {waiting} run the new spec"
    )
    event = JobEvent(
        "Normal", "UpdateQueued", f"{s.job}: spec change queued until {waiting} run the new spec"
    )
    return JobDecision(queued, (), (event,))


def next_deadline(
    record: JobRecord,
    policy: RestartPolicy,
    start_timeout_seconds: float,
    progress_timeout_seconds: float | None = None,
    lost_grace_seconds: float | None = None,
) -> float | None:
    """When this job's next time-driven transition falls due (backoff over, start timeout, healthy
    reset, no progress, lost grace over), or None: lets a periodic check skip reconciling pipelines
    where nothing can be due."""
    if record.phase == JobPhase.BACKOFF:
        return record.next_restart_at if record.next_restart_at is not None else record.last_transition
    if record.phase == JobPhase.STARTING:
        return record.last_transition + start_timeout_seconds
    if record.phase == JobPhase.LOST and lost_grace_seconds is not None:
        return record.last_transition + lost_grace_seconds
    deadlines = []
    if record.phase in RUNNING_PHASES and record.restarts > 0:
        deadlines.append(record.last_transition + policy.reset_after_seconds)
    if (
        record.phase in (JobPhase.RUNNING, JobPhase.PARTIAL)
        and progress_timeout_seconds is not None
        and record.last_progress is not None
    ):
        # Only for a driver that reported: one that never did (started before progress reporting) would
        # be "due" at every tick forever. A reporting driver that falls silent before its first report
        # is caught by the periodic full resync.
        deadlines.append(record.last_progress + progress_timeout_seconds)
    return min(deadlines) if deadlines else None


def _running(s: JobSituation, driver: ObservedDriver) -> JobDecision:
    """Running and Ready: Running only with every planned executor Ready and the query progressing."""
    record = s.record
    if driver.reports_progress:
        running_since = record.last_transition if record.phase in RUNNING_PHASES else s.now
        since = driver.last_progress if driver.last_progress is not None else running_since
        idle = s.now - since
        if idle > s.progress_timeout_seconds:
            limit = s.progress_timeout_seconds
            message = f"{driver.name}: no query progress for {idle:.0f}s (progressTimeoutSeconds {limit:.0f})"
            return _to(s, JobPhase.STALLED, "NoProgress", message, warning=True)
    executors = s.executors
    if executors is not None and executors.ready < executors.planned:
        why = f"; {executors.pending_reason}" if executors.pending_reason else ""
        message = f"{executors.ready}/{executors.planned} executors Ready{why}"
        starting = record.phase == JobPhase.STARTING and record.spec_hash == s.desired_hash
        if starting and s.now - driver.created_at <= s.start_timeout_seconds:
            # A fresh driver asks for its executors as it starts: they come up a little after it.
            return _to(s, JobPhase.STARTING, "ExecutorsStarting", message)
        return _to(s, JobPhase.PARTIAL, "ExecutorsNotReady", message, warning=True)
    if record.phase != JobPhase.RUNNING or record.spec_hash != s.desired_hash:
        return _to(s, JobPhase.RUNNING, "DriverRunning", f"driver pod {driver.name} is Running and Ready")
    healthy_for = s.now - record.last_transition
    if record.restarts > 0 and healthy_for >= s.policy.reset_after_seconds:
        reset = dataclasses.replace(record, restarts=0)
        event = JobEvent("Normal", "RestartCountReset", f"{s.job}: healthy for {healthy_for:.0f}s")
        return JobDecision(reset, (), (event,))
    return JobDecision(record)


def _observed(s: JobSituation, record: JobRecord) -> JobRecord:
    """What the status shows besides the phase: executors, last progress, node, restart nonce."""
    driver = s.driver if s.driver is not None and record.phase not in (JobPhase.SUSPENDED,) else None
    changes: dict[str, object] = {}
    if record.restart_nonce is None:
        changes["restart_nonce"] = s.restart_nonce  # first record, or one an older operator wrote: adopt
    if driver is not None and driver.last_progress is not None:
        changes["last_progress"] = driver.last_progress
    if driver is not None and driver.node_name:
        changes["node"] = driver.node_name
    executors = s.executors
    if executors is not None and driver is not None and driver.ready:
        changes["executors"] = f"{executors.ready}/{executors.planned}"
    if not changes or all(getattr(record, k) == v for k, v in changes.items()):
        return record
    return dataclasses.replace(record, **changes)  # type: ignore[arg-type]


def _create(s: JobSituation, *, restart: bool, reason: str = "") -> JobDecision:
    fresh_budget = False
    if reason == "DriverReplaced":
        message = f"replacing lost driver {s.pod_name} (not counted against maxRetries)"
    elif reason == "RestartRequested" or (not restart and s.record.reason == "RestartRequested"):
        reason, message = "RestartRequested", f"driver restarted on request (restart nonce {s.restart_nonce})"
        fresh_budget = True
    elif restart:
        reason, message = "DriverRestarted", f"restart {s.record.restarts}/{s.policy.max_retries}"
    elif s.record.phase == JobPhase.SUSPENDED:
        reason, message = (
            "Resumed",
            "pipeline resumed; continuing from checkpoints with a fresh restart budget",
        )  # the budget was reset in _decide, for every job leaving Suspended
    elif s.record.reason == "SpecChanged":
        reason, message = "DriverUpdated", f"new driver with spec hash {s.desired_hash}"
    else:
        reason, message = "DriverCreated", f"driver pod {s.pod_name} created"
    # A new spec and a restart on request start with a fresh restart budget.
    keep = (restart or s.record.spec_hash == s.desired_hash) and not fresh_budget
    return _to(
        s,
        JobPhase.STARTING,
        reason,
        message,
        (CreateDriver(restart=restart),),
        next_restart_at=None,
        restarts=s.record.restarts if keep else 0,
        restart_nonce=s.restart_nonce,
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
