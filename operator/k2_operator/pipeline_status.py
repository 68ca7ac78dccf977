"""The pipeline's status: its phase, its Ready / Progressing / Degraded conditions and the per-job
entries, from the job records the state machine produced. Pure; times are epoch seconds in, RFC 3339 out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from k2_operator.state_machine import JobPhase, JobRecord

PHASE_PENDING = "Pending"
PHASE_STARTING = "Starting"
PHASE_RUNNING = "Running"
PHASE_UPDATING = "Updating"
PHASE_DEGRADED = "Degraded"
PHASE_FAILED = "Failed"
PHASE_SUCCEEDED = "Succeeded"
PHASE_SUSPENDED = "Suspended"

#: Job phases that make the pipeline Degraded (a streaming job that Succeeded has stopped too).
_TROUBLE = (
    JobPhase.FAILED,
    JobPhase.BACKOFF,
    JobPhase.LOST,
    JobPhase.STALLED,
    JobPhase.PARTIAL,
    JobPhase.SUCCEEDED,
)
_MOVING = (JobPhase.PENDING, JobPhase.STARTING, JobPhase.BACKOFF)
_UPDATE_REASONS = ("SpecChanged", "DriverUpdated")


def pipeline_phase(records: Mapping[str, JobRecord], suspended: bool) -> str:
    phases = [record.phase for record in records.values()]
    if suspended:
        return PHASE_SUSPENDED
    if phases and all(phase == JobPhase.FAILED for phase in phases):
        return PHASE_FAILED
    if phases and all(phase == JobPhase.SUCCEEDED for phase in phases):
        return PHASE_SUCCEEDED
    if any(phase in _TROUBLE for phase in phases):
        return PHASE_DEGRADED
    if phases and all(phase == JobPhase.RUNNING for phase in phases):
        return PHASE_RUNNING
    if any(r.phase in _MOVING and r.reason in _UPDATE_REASONS for r in records.values()):
        return PHASE_UPDATING
    if any(phase == JobPhase.STARTING for phase in phases):
        return PHASE_STARTING
    return PHASE_PENDING


def ready_count(records: Mapping[str, JobRecord]) -> str:
    running = sum(record.phase == JobPhase.RUNNING for record in records.values())
    return f"{running}/{len(records)}"


def invalid_spec_conditions(
    error: str, generation: int, previous: list[dict[str, Any]] | None, now: float
) -> list[dict[str, Any]]:
    """A spec the operator cannot act on: not Ready, Degraded, with the reason; the drivers of the last
    valid spec keep running (the reconciler leaves them alone)."""
    old = {c.get("type"): c for c in previous or []}
    values = {
        "Ready": ("False", "InvalidSpec", error),
        "Progressing": ("False", "InvalidSpec", "nothing changes until the spec is fixed"),
        "Degraded": ("True", "InvalidSpec", error),
    }
    return [_condition(kind, value, old.get(kind), generation, now) for kind, value in values.items()]


def conditions(
    records: Mapping[str, JobRecord],
    suspended: bool,
    generation: int,
    previous: list[dict[str, Any]] | None,
    now: float,
) -> list[dict[str, Any]]:
    """Ready, Progressing and Degraded; ``lastTransitionTime`` moves only when a status flips."""
    troubled = {job: r for job, r in records.items() if r.phase in _TROUBLE}
    moving = {job: r for job, r in records.items() if r.phase in _MOVING}
    running = ready_count(records)
    all_running = bool(records) and all(r.phase == JobPhase.RUNNING for r in records.values())
    if suspended:
        ready = ("False", "Suspended", "pipeline is suspended")
        progressing = ("False", "Suspended", "pipeline is suspended")
    else:
        ready = (
            ("True", "AllDriversRunning", f"{running} drivers Running")
            if all_running
            else (
                "False",
                "DriversNotRunning",
                f"{running} drivers Running",
            )
        )
        progressing = (
            ("True", "DriversStarting", _describe(moving))
            if moving
            else ("False", "Stable", "no driver changing")
        )
    degraded = (
        ("True", _first_reason(troubled), _describe(troubled))
        if troubled
        else (
            "False",
            "Healthy",
            "no job failed",
        )
    )
    old = {c.get("type"): c for c in previous or []}
    return [
        _condition(kind, value, old.get(kind), generation, now)
        for kind, value in (("Ready", ready), ("Progressing", progressing), ("Degraded", degraded))
    ]


def _describe(records: Mapping[str, JobRecord]) -> str:
    return "; ".join(f"{job}: {r.phase} ({r.reason})" for job, r in sorted(records.items()))


def _first_reason(records: Mapping[str, JobRecord]) -> str:
    return records[min(records)].reason or "JobFailing"


def _condition(
    kind: str, value: tuple[str, str, str], old: dict[str, Any] | None, generation: int, now: float
) -> dict[str, Any]:
    status, reason, message = value
    flipped = old is None or old.get("status") != status
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": to_rfc3339(now) if flipped or old is None else old.get("lastTransitionTime"),
    }


# --- job records <-> status.jobs entries ---------------------------------------------------------

_FIELDS = {
    "phase": "phase",
    "driver_pod": "driverPod",
    "spec_hash": "specHash",
    "restarts": "restarts",
    "reason": "reason",
    "message": "message",
}
_OPTIONAL = {"executors": "executors", "restart_nonce": "restartNonce", "node": "node"}
_TIMES = {
    "last_transition": "lastTransitionTime",
    "next_restart_at": "nextRestartTime",
    "last_progress": "lastProgressTime",
}


def record_to_status(record: JobRecord, cores: int) -> dict[str, Any]:
    entry: dict[str, Any] = {status_key: getattr(record, attr) for attr, status_key in _FIELDS.items()}
    for attr, status_key in _TIMES.items():
        value = getattr(record, attr)
        entry[status_key] = to_rfc3339(value) if value else None
    for attr, status_key in _OPTIONAL.items():
        entry[status_key] = getattr(record, attr) or None
    entry["cores"] = cores
    return entry


def record_from_status(entry: Mapping[str, Any] | None) -> JobRecord:
    if not entry:
        return JobRecord()
    values: dict[str, Any] = {attr: entry[key] for attr, key in _FIELDS.items() if entry.get(key) is not None}
    for attr, key in _TIMES.items():
        if entry.get(key):
            values[attr] = from_rfc3339(entry[key])
    for attr, key in _OPTIONAL.items():
        if entry.get(key) is not None:
            values[attr] = entry[key]
    return dataclasses.replace(JobRecord(), **values)


def to_rfc3339(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_rfc3339(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
