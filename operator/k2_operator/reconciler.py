"""One reconciliation of one StreamingPipeline: read the pipeline and its children, let the state machine
decide per job, carry out its actions, write the status. kopf-free, so it can be driven by any trigger.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from k2_operator import driver_rbac
from k2_operator import naming as n
from k2_operator.builders import PipelineRef, build_driver_disruption_budget
from k2_operator.desired import DesiredPipeline, desired_pipeline, restart_policy
from k2_operator.feed_deployments import feed_status
from k2_operator.kube_io import KubeApi, by_job, feed_deployments, named, owned_by
from k2_operator.pipeline_spec import PipelineSpec, PipelineSpecError
from k2_operator.pipeline_status import (
    PHASE_DEGRADED,
    PHASE_FAILED,
    conditions,
    invalid_spec_conditions,
    pipeline_phase,
    ready_count,
    record_from_status,
    record_to_status,
)
from k2_operator.quality_process import build_quality_rbac, build_report_config_map, quality_status
from k2_operator.state_machine import (
    CreateDriver,
    DeleteDriver,
    Executors,
    JobDecision,
    JobEvent,
    JobRecord,
    JobSituation,
    ObservedDriver,
    decide_job,
    next_deadline,
    rolling_out,
    update_blockers,
)

log = logging.getLogger("k2_operator.reconciler")

_WARNING_PHASES = ("Degraded", "Failed")
#: How often a pipeline's ServiceAccounts, RoleBindings and report ConfigMap are checked again (a
#: re-created pipeline re-owns its predecessor's the first time; this catches one deleted since).
RBAC_RECHECK_SECONDS = 600.0


@dataclass(frozen=True)
class Observed:
    """One pipeline's children as read at the start of a reconciliation, by job."""

    pods: dict[str, ObservedDriver]
    config_maps: dict[str, dict[str, Any]]
    services: dict[str, dict[str, Any]]
    #: exchange -> feed Deployment
    feeds: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: job -> its executors against the plan
    executors: dict[str, Executors] = field(default_factory=dict)
    #: the quality process's Deployment and its report ConfigMap (None: not there)
    quality: dict[str, Any] | None = None
    report: dict[str, Any] | None = None


@dataclass
class Outcome:
    phase: str
    events: list[JobEvent] = field(default_factory=list)
    restarted_jobs: list[str] = field(default_factory=list)
    failed_jobs: list[tuple[str, str]] = field(default_factory=list)  # (job, failure reason)
    jobs: list[str] = field(default_factory=list)  # every job of the pipeline
    status_written: bool = False


#: Event reasons of the state machine that mean "the driver failed", and the failure each counts as.
_FAILURE_EVENTS = {
    "DriverExited": "exited",
    "DriverDeleted": "deleted",
    "StartTimeout": "start_timeout",
}


def failure_of(decision: JobDecision, driver: ObservedDriver | None) -> str:
    """The failure (contracts.DRIVER_FAILURE_REASONS) a decision reacted to, or "" when none."""
    for event in decision.events:
        if event.reason == "DriverFailed":
            return (driver.failure if driver else "") or "error"
        if event.reason in _FAILURE_EVENTS:
            return _FAILURE_EVENTS[event.reason]
    return ""


class Reconciler:
    def __init__(self, api: KubeApi, clock: Callable[[], float] = time.time) -> None:
        self.api = api
        self.clock = clock
        self._rbac_ensured: dict[str, float] = {}  # pipeline uid -> when its RBAC was last checked
        #: pipeline uid -> when it was last seen without driver PodDisruptionBudgets, neither wanted
        #: nor there (the list is then skipped until the spec asks for them, or RBAC_RECHECK_SECONDS)
        self._no_budgets: dict[str, float] = {}

    def forget(self, uid: str) -> None:
        """Drop what is remembered of a deleted pipeline."""
        for memory in (self._rbac_ensured, self._no_budgets):
            memory.pop(uid, None)

    def reconcile(self, body: dict[str, Any]) -> Outcome:
        meta = body["metadata"]
        ref = PipelineRef(meta["name"], meta["namespace"], meta["uid"])
        old_status: dict[str, Any] = body.get("status") or {}
        try:
            desired = desired_pipeline(ref, PipelineSpec.from_cr_spec(body.get("spec") or {}))
        except (PipelineSpecError, ValueError) as error:
            return self._invalid(ref, meta, old_status, str(error))
        now = self.clock()
        rbac_due = self._rbac_due(ref.uid, now)
        # The drivers' identity first (a pod naming a missing ServiceAccount is refused); the quality
        # process's comes after the drivers, before its own Deployment.
        rbac_complete = not rbac_due or self.api.ensure_owned(driver_rbac.build_driver_identity(ref))
        planned = {job: want.inputs.plan.executor_instances for job, want in desired.jobs.items()}
        owner = ref.owner_reference()
        # One list per kind: drivers with executors, job ConfigMaps with the quality report, feed
        # Deployments with the quality Deployment (the full resync reads every pipeline periodically).
        job_pods = self.api.job_pods(ref.namespace, ref.name)
        pods = self._with_node_states(self.api.driver_pods(ref.namespace, job_pods, owner))
        config_maps = self.api.config_maps(ref.namespace, ref.name)
        deployments = self.api.deployments(ref.namespace, ref.name)
        observed = Observed(
            pods=pods,
            config_maps=by_job(config_maps, "ConfigMap"),
            services=self.api.services(ref.namespace, ref.name),
            feeds=feed_deployments(deployments),
            executors=self.api.executors(job_pods, planned, pods),
            quality=named(deployments, desired.quality["metadata"]["name"], "Deployment"),
            report=named(config_maps, n.quality_report_name(ref.name), "ConfigMap"),
        )
        self._adopt(ref, observed)
        records, outcome = self._decide_and_act(desired, observed, old_status, now)
        self._sync_services(desired, observed)
        self._sync_feeds(desired, observed)
        self._sync_disruption_budgets(desired)
        if rbac_due:
            quality_identity = [*build_quality_rbac(ref), build_report_config_map(ref)]
            if self.api.ensure_owned(quality_identity) and rbac_complete:
                self._rbac_ensured[ref.uid] = now
        self._sync_quality(desired, observed.quality)
        self._remove_unwanted(desired, observed)
        status = self._status(desired, records, meta.get("generation", 0), old_status, now)
        feeds = self._feeds_status(desired, observed, old_status)
        if feeds:  # no feeds, none before: no key (an empty map would rewrite the status every time)
            status["feeds"] = feeds
        status["quality"] = quality_status(
            observed.report, desired.quality["metadata"]["name"], desired.spec.quality.enabled
        )
        outcome.phase = status["phase"]
        if status["phase"] != old_status.get("phase"):
            kind = "Warning" if status["phase"] in _WARNING_PHASES else "Normal"
            before = old_status.get("phase") or "New"
            summary = f"pipeline {before} -> {status['phase']} ({status['ready']} running)"
            outcome.events.append(JobEvent(kind, f"Pipeline{status['phase']}", summary))
        outcome.status_written = self._write_status(ref, status, old_status)
        return outcome

    def _decide_and_act(
        self, desired: DesiredPipeline, observed: Observed, old_status: dict[str, Any], now: float
    ) -> tuple[dict[str, JobRecord], Outcome]:
        ref = desired.ref
        pods, config_maps = observed.pods, observed.config_maps
        old_jobs: dict[str, Any] = old_status.get("jobs") or {}
        records: dict[str, JobRecord] = {}
        outcome = Outcome(phase="")
        spec = desired.spec
        #: jobs (in JOBS order: Bronze, Silver, Gold) not yet settled on their desired spec -> layer
        unsettled: dict[str, str] = {}
        for job, want in desired.jobs.items():
            # Before the pod: a new driver must mount this spec's configuration, never the last one's.
            self.api.sync_config_map(want.config_map, config_maps.get(job))
            layer = want.inputs.job_config.layer
            decision = decide_job(
                JobSituation(
                    job=job,
                    desired_hash=want.spec_hash,
                    pod_name=want.pod["metadata"]["name"],
                    driver=pods.get(job),
                    record=record_from_status(old_jobs.get(job)),
                    policy=desired.restart_policy,
                    start_timeout_seconds=spec.driver_start_timeout_seconds,
                    suspended=spec.suspend,
                    now=now,
                    executors=observed.executors.get(job),
                    progress_timeout_seconds=spec.progress_timeout_seconds,
                    lost_grace_seconds=spec.driver_lost_grace_seconds,
                    restart_nonce=spec.restart_nonce_of(job),
                    update_blocked_by=update_blockers(layer, unsettled),
                )
            )
            if rolling_out(decision.record, pods.get(job), want.spec_hash):
                unsettled[job] = layer
            for action in decision.actions:
                context = {"namespace": ref.namespace, "pipeline": ref.name, "job": job}
                if isinstance(action, CreateDriver):
                    created = self.api.create_pod(want.pod)
                    log.info("driver pod created" if created else "driver pod existed", extra=context)
                    if action.restart:
                        outcome.restarted_jobs.append(job)
                elif isinstance(action, DeleteDriver):
                    self.api.delete_pod(ref.namespace, action.pod, force=action.force)
                    log.info(
                        "driver pod %sdeleted: %s",
                        "force-" if action.force else "",
                        action.reason,
                        extra=context,
                    )
            failure = failure_of(decision, pods.get(job))
            if failure:
                outcome.failed_jobs.append((job, failure))
            for event in decision.events:
                log.info("%s: %s", event.reason, event.message, extra={"pipeline": ref.name, "job": job})
            records[job] = decision.record
            outcome.jobs.append(job)
            outcome.events.extend(decision.events)
        return records, outcome

    def _sync_services(self, desired: DesiredPipeline, observed: Observed) -> None:
        """The drivers' headless Services, after their pods (as spark-submit orders them): executors
        resolve a driver through its Service only once the driver's JVM is up and asks for them, so a
        new pipeline's five pods need not wait behind five more requests."""
        for job, want in desired.jobs.items():
            self.api.sync_service(want.service, observed.services.get(job))

    def _with_node_states(self, pods: dict[str, ObservedDriver]) -> dict[str, ObservedDriver]:
        """A driver that is not Running and Ready (or is Terminating) gets its node's state: a NotReady
        or deleted node makes it Lost. Healthy drivers cost no Node read."""
        states: dict[str, str] = {}
        result = {}
        for job, driver in pods.items():
            suspicious = driver.terminating or driver.phase == "Unknown" or not driver.ready
            if driver.node_name and suspicious:
                if driver.node_name not in states:
                    states[driver.node_name] = self.api.node_state(driver.node_name)
                driver = dataclasses.replace(driver, node_state=states[driver.node_name])
            result[job] = driver
        return result

    def _sync_feeds(self, desired: DesiredPipeline, observed: Observed) -> None:
        for exchange, deployment in desired.feeds.items():
            if self.api.sync_deployment(deployment, observed.feeds.get(exchange)):
                log.info(
                    "feed deployment written",
                    extra={
                        "namespace": desired.ref.namespace,
                        "pipeline": desired.ref.name,
                        "exchange": exchange,
                    },
                )

    def _sync_disruption_budgets(self, desired: DesiredPipeline) -> None:
        """A PodDisruptionBudget per driver when spec.driverPodDisruptionBudget asks for them (created
        once: name and selector never change), none otherwise (and none for a job gone). A pipeline
        found without any, none wanted, is listed again only every RBAC_RECHECK_SECONDS: one list
        less per periodic reconciliation in the usual case."""
        ref = desired.ref
        wanted = set(desired.jobs) if desired.spec.driver_pod_disruption_budget else set()
        checked = self._no_budgets.get(ref.uid)
        if not wanted and checked is not None and self.clock() - checked < RBAC_RECHECK_SECONDS:
            return
        existing = self.api.disruption_budgets(ref.namespace, ref.name)
        if not wanted and not existing:
            self._no_budgets[ref.uid] = self.clock()
        else:
            self._no_budgets.pop(ref.uid, None)
        for job in wanted - set(existing):
            self.api.create_disruption_budget(build_driver_disruption_budget(desired.jobs[job].inputs))
        for job, budget in existing.items():
            if job not in wanted:
                self.api.delete_child(budget)
            elif not owned_by(budget, ref.uid):
                self.api.adopt(budget, ref.owner_reference())

    def _remove_unwanted(self, desired: DesiredPipeline, observed: Observed) -> None:
        """Children of jobs the spec no longer has (an exchange was removed), feeds no longer asked for."""
        ref = desired.ref
        for exchange, deployment in observed.feeds.items():
            if exchange not in desired.feeds:
                self.api.delete_child(deployment)
        for job, driver in observed.pods.items():
            if job not in desired.jobs and not driver.terminating:
                self.api.delete_pod(ref.namespace, driver.name)
        for children in (observed.config_maps, observed.services):
            for job, obj in children.items():
                if job not in desired.jobs:
                    self.api.delete_child(obj)

    def _sync_quality(self, desired: DesiredPipeline, existing: dict[str, Any] | None) -> None:
        """The quality process: its Deployment follows the spec; its identity and report ConfigMap
        are created once per pipeline (see _rbac_due)."""
        ref = desired.ref
        if existing is not None and not owned_by(existing, ref.uid):
            self.api.adopt(existing, ref.owner_reference())
        if self.api.sync_deployment(desired.quality, existing):
            log.info("quality deployment written", extra={"namespace": ref.namespace, "pipeline": ref.name})

    def _adopt(self, ref: PipelineRef, observed: Observed) -> None:
        """Children a deleted pipeline of the same name left behind (the garbage collector is about to
        delete them) become this pipeline's: the ConfigMaps, Services and feed Deployments as they are
        (a changed spec replaces them as usual); driver pods were adopted while listed."""
        owner = ref.owner_reference()
        for children in (observed.config_maps, observed.services, observed.feeds):
            for child in children.values():
                meta = child["metadata"]
                if not meta.get("deletionTimestamp") and not owned_by(child, ref.uid):
                    self.api.adopt(child, owner)

    def _rbac_due(self, uid: str, now: float) -> bool:
        """The drivers' ServiceAccount and RoleBindings, the quality process's identity (it may get and
        update its report ConfigMap, nothing else) and that ConfigMap are checked once per pipeline uid
        and RBAC_RECHECK_SECONDS, not on every reconciliation."""
        checked = self._rbac_ensured.get(uid)
        return checked is None or now - checked >= RBAC_RECHECK_SECONDS

    def _status(
        self,
        desired: DesiredPipeline,
        records: dict[str, JobRecord],
        generation: int,
        old_status: dict[str, Any],
        now: float,
    ) -> dict[str, Any]:
        suspended = desired.spec.suspend
        phase = pipeline_phase(records, suspended)
        jobs: dict[str, Any] = {
            job: record_to_status(r, desired.jobs[job].cores) for job, r in records.items()
        }
        for gone in set(old_status.get("jobs") or {}) - set(jobs):
            jobs[gone] = None  # merge patch: remove the entry
        return {
            "phase": phase,
            "observedGeneration": generation,
            "ready": ready_count(records),
            "message": "; ".join(f"{job}: {r.message}" for job, r in records.items() if r.phase != "Running"),
            "conditions": conditions(records, suspended, generation, old_status.get("conditions"), now),
            "jobs": jobs,
            "plan": {
                "totalCores": desired.plan.total_cores,
                "jobs": {job: plan.as_status() for job, plan in desired.plan.jobs.items()},
            },
        }

    @staticmethod
    def _feeds_status(
        desired: DesiredPipeline, observed: Observed, old_status: dict[str, Any]
    ) -> dict[str, Any]:
        old_feeds: dict[str, Any] = old_status.get("feeds") or {}
        feeds: dict[str, Any] = {}
        for exchange, deployment in desired.feeds.items():
            feed = desired.spec.exchange(exchange).feed
            assert feed is not None
            seen = observed.feeds.get(exchange) or {"metadata": deployment["metadata"]}
            feeds[exchange] = feed_status(seen, feed.source, desired.spec.suspend, old_feeds.get(exchange))
        for gone in set(old_feeds) - set(feeds):
            feeds[gone] = None  # merge patch: remove the entry
        return feeds

    def _invalid(
        self, ref: PipelineRef, meta: dict[str, Any], old_status: dict[str, Any], error: str
    ) -> Outcome:
        """The spec cannot be acted on: Ready=False with the reason, and nothing else touched: drivers of
        the last valid spec keep running (Degraded), none is created or deleted (Failed if none ran)."""
        generation = meta.get("generation", 0)
        phase = PHASE_DEGRADED if old_status.get("jobs") else PHASE_FAILED
        status = {
            "phase": phase,
            "observedGeneration": generation,
            "message": f"invalid spec: {error}",
            "conditions": invalid_spec_conditions(
                error, generation, old_status.get("conditions"), self.clock()
            ),
        }
        outcome = Outcome(phase=phase)
        if old_status.get("message") != status["message"]:
            outcome.events.append(JobEvent("Warning", "InvalidSpec", error))
        outcome.status_written = self._write_status(ref, status, old_status)
        return outcome

    def _write_status(self, ref: PipelineRef, status: dict[str, Any], old_status: dict[str, Any]) -> bool:
        if _pruned(status) == {key: old_status.get(key) for key in _pruned(status)}:
            return False
        self.api.patch_status(ref.namespace, ref.name, status)
        return True


def _pruned(value: Any) -> Any:
    """``value`` without None entries (what the API server stores after a merge patch)."""
    if isinstance(value, dict):
        return {key: _pruned(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_pruned(item) for item in value]
    return value


def earliest_deadline(body: Mapping[str, Any]) -> float | None:
    """When the earliest time-driven transition of this pipeline's jobs (as last recorded in its status)
    falls due, or None when none can (an invalid spec has none: its event reconciles it, and nothing
    time-driven happens to it)."""
    try:
        spec = PipelineSpec.from_cr_spec(body.get("spec") or {})
    except (PipelineSpecError, ValueError):
        return None
    policy = restart_policy(spec.restart_policy)
    jobs = (body.get("status") or {}).get("jobs") or {}
    deadlines = [
        deadline
        for entry in jobs.values()
        if entry
        and (
            deadline := next_deadline(
                record_from_status(entry),
                policy,
                spec.driver_start_timeout_seconds,
                spec.progress_timeout_seconds,
                spec.driver_lost_grace_seconds,
            )
        )
        is not None
    ]
    return min(deadlines) if deadlines else None


def deadline_due(body: Mapping[str, Any], now: float) -> bool:
    """True when some job of this pipeline has a time-driven transition due (see earliest_deadline)."""
    deadline = earliest_deadline(body)
    return deadline is not None and deadline <= now
