"""kopf wiring: thin. Every trigger (a pipeline event, the operator-wide resync loop, a driver pod or feed
Deployment event) runs the same reconciliation of the pipeline, read fresh from the API server, one at
a time per pipeline, on a small pool of worker threads.

Run: ``python -m k2_operator`` (or ``kopf run --standalone -A -m k2_operator.handlers``).
Environment: K2_OPERATOR_RESYNC_SECONDS (how often the resync loop looks for due deadlines, default 10),
K2_OPERATOR_FULL_RESYNC_SECONDS (reconcile every pipeline at least this often even when nothing is due,
default 120: see FULL_RESYNC_SECONDS), K2_OPERATOR_WORKERS (reconciliations in parallel, default 8),
K2_OPERATOR_METRICS_PORT (8080, 0 = off), K2_OPERATOR_METRICS_ADDRESS (0.0.0.0),
K2_OPERATOR_WATCH_NAMESPACES (see __main__).

No finalizer. kopf puts one on every object a timer or a non-optional deletion handler serves, and then
``kubectl delete sp`` hangs for as long as the operator is down. Nothing here needs one: children go
with the pipeline through their ownerReferences (the garbage collector), and the time-driven work
(backoff deadlines, start timeouts, the periodic drift repair) runs in one operator-wide loop over the
pipelines kopf's watch has seen, instead of one kopf timer per pipeline. Pipelines an older operator
version served still carry its finalizer (``k2.dev/operator``): the first event of each removes it,
deleting or not (see :func:`release_old_finalizer`).
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, cast

import kopf
from kubernetes.client.exceptions import ApiException

from k2_operator import events
from k2_operator import naming as n
from k2_operator import operator_metrics as metrics
from k2_operator.child_watch import ChildWatches
from k2_operator.coalescer import Coalescer
from k2_operator.kube_io import KubeApi, new_api_client
from k2_operator.reconciler import Reconciler, earliest_deadline

log = logging.getLogger("k2_operator.handlers")

RESYNC_SECONDS = float(os.environ.get("K2_OPERATOR_RESYNC_SECONDS", "10"))
#: The full resync only repairs what no event reports: a ConfigMap, Service or PodDisruptionBudget
#: edited or deleted by someone else, and status fields read from objects nobody watches (the quality
#: report -> status.quality, checked every 300 s by default; the drivers' progress annotation ->
#: status.jobs[].lastProgressTime). Driver, executor and feed changes arrive by watch, time-driven
#: transitions (backoff, start/progress timeouts, lost grace) by their own deadlines. Its cost is
#: linear in the period (idle CPU at 200 pipelines is almost all resync), so 120 s halves it.
FULL_RESYNC_SECONDS = float(os.environ.get("K2_OPERATOR_FULL_RESYNC_SECONDS", "120"))
WORKERS = int(os.environ.get("K2_OPERATOR_WORKERS", "8"))
METRICS_PORT = int(os.environ.get("K2_OPERATOR_METRICS_PORT", "8080"))
METRICS_ADDRESS = os.environ.get("K2_OPERATOR_METRICS_ADDRESS", "0.0.0.0")
#: The finalizer operator versions up to this one put on every pipeline (through their kopf timer).
OLD_FINALIZER = f"{n.GROUP}/operator"
FORBIDDEN = 403


@dataclass
class Known:
    """What the operator remembers of one pipeline between its events (kopf's watch keeps it current)."""

    uid: str
    #: When a time-driven transition of one of its jobs falls due (None: nothing is), from its status.
    deadline: float | None
    #: Wall time of the last reconciliation (the full resync repairs drift from there).
    last_reconciled: float


class Runtime:
    """The operator's shared state: the reconciler, the worker pool and the pipelines seen."""

    def __init__(self) -> None:
        self._reconciler: Reconciler | None = None
        self.coalescer = Coalescer()
        self.known: dict[tuple[str, str], Known] = {}
        self.lock = threading.Lock()
        self.pool: ThreadPoolExecutor | None = None
        self.stopping = threading.Event()

    @property
    def reconciler(self) -> Reconciler:
        if self._reconciler is None:
            self._reconciler = Reconciler(KubeApi(new_api_client()))
        return self._reconciler

    def forget(self, key: tuple[str, str]) -> None:
        """A pipeline was deleted: nothing of it is remembered any longer."""
        with self.lock:
            gone = self.known.pop(key, None)
        if gone is not None and self._reconciler is not None:
            self._reconciler.forget(gone.uid)

    def submit(self, namespace: str, name: str, trigger: str) -> None:
        """Queue a reconciliation; returns at once (kopf's event loop and the watches never wait)."""
        if self.pool is None:  # before startup (tests calling handlers directly): run inline
            reconcile_named(namespace, name, trigger)
            return
        self.pool.submit(_logged, reconcile_named, namespace, name, trigger)


runtime = Runtime()


def _logged(fn: Callable[..., None], *args: Any) -> None:
    try:
        fn(*args)
    except ApiException:  # logged and counted by _reconcile_once; the next trigger retries
        pass
    except Exception:  # anything else too, but say so: a worker thread has no one to raise to
        log.exception("reconciliation raised", extra={"call": getattr(fn, "__name__", str(fn))})


def reconciler() -> Reconciler:
    return runtime.reconciler


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.peering.standalone = True  # one replica; the Deployment never runs two
    settings.posting.enabled = True
    settings.posting.loggers = False  # Events are posted explicitly, one per transition
    settings.execution.max_workers = 2  # kopf's own sync work only; reconciliations have their pool
    # kopf logs "Handler ... succeeded." at INFO for every watch event of every object: thousands of
    # JSON lines a minute at 200 pipelines, for nothing. Failures are still logged (ERROR).
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    if os.environ.get("K2_OPERATOR_WATCH_NAMESPACES", "").strip():
        # Namespaced mode holds Roles only: no cluster-wide listing of namespaces and CRDs (kopf would
        # try, get 403 and warn); the watched namespaces are named exactly and the CRD exists first.
        settings.scanning.disabled = True
    if METRICS_PORT:
        metrics.serve(METRICS_PORT, METRICS_ADDRESS)
    runtime.pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="reconcile")
    namespaces = [
        name.strip() for name in os.environ.get("K2_OPERATOR_WATCH_NAMESPACES", "").split(",") if name.strip()
    ]
    ChildWatches(runtime.reconciler.api, namespaces, on_child_event, runtime.stopping).start()
    threading.Thread(target=_resync_loop, name="resync", daemon=True).start()
    log.info(
        "k2-operator started",
        extra={
            "resync_seconds": RESYNC_SECONDS,
            "full_resync_seconds": FULL_RESYNC_SECONDS,
            "metrics_port": METRICS_PORT,
            "workers": WORKERS,
        },
    )


@kopf.on.cleanup()
def shutdown(**_: Any) -> None:
    runtime.stopping.set()


def reconcile_named(namespace: str, name: str, trigger: str) -> None:
    runtime.coalescer.run((namespace, name), lambda: _reconcile_once(namespace, name, trigger))


def _reconcile_once(namespace: str, name: str, trigger: str) -> None:
    rec = runtime.reconciler
    body = rec.api.get_pipeline(namespace, name)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return
    metrics.RECONCILIATIONS.labels(trigger).inc()
    with runtime.lock:
        known = runtime.known.get((namespace, name))
        if known is not None:
            known.last_reconciled = time.time()
    started = time.perf_counter()
    try:
        outcome = rec.reconcile(body)
    except ApiException as error:
        if error.status == FORBIDDEN and "NamespaceTerminating" in str(error.body):
            # The namespace is going away with the pipeline in it: nothing left to reconcile.
            log.info("namespace terminating; skipped", extra={"namespace": namespace, "pipeline": name})
            return
        metrics.RECONCILE_ERRORS.labels(type(error).__name__).inc()
        log.exception(
            "reconcile failed", extra={"namespace": namespace, "pipeline": name, "trigger": trigger}
        )
        raise
    except Exception as error:
        metrics.RECONCILE_ERRORS.labels(type(error).__name__).inc()
        log.exception(
            "reconcile failed", extra={"namespace": namespace, "pipeline": name, "trigger": trigger}
        )
        raise
    finally:
        metrics.RECONCILE_SECONDS.observe(time.perf_counter() - started)
    metrics.PHASES.set(namespace, name, outcome.phase)
    metrics.start_job_series(namespace, name, outcome.jobs)
    for job in outcome.restarted_jobs:
        metrics.JOB_RESTARTS.labels(namespace, name, job).inc()
    for job, reason in outcome.failed_jobs:
        metrics.count_failure(namespace, name, job, reason)
    for event in outcome.events:
        events.post(rec.api.core, body, event.type, event.reason, event.message)


def needs_reconcile(body: Mapping[str, Any], known: Known | None, now: float) -> str | None:
    """What a pipeline event calls for a reconciliation as (the trigger), or None: "create" or
    "resume" when the operator has not seen the pipeline yet (new since the operator started, or
    there before), "update" when its spec changed since the status was last written (generation ahead
    of status.observedGeneration), "timer" when a deadline is due. Its own status writes come back as
    events too: those need nothing."""
    meta = body.get("metadata") or {}
    if known is None or known.uid != meta.get("uid"):
        return "resume" if body.get("status") else "create"
    observed = (body.get("status") or {}).get("observedGeneration")
    if observed != meta.get("generation"):
        return "update"
    return "timer" if known.deadline is not None and known.deadline <= now else None


@kopf.on.event(n.GROUP, n.VERSION, n.PLURAL)
def on_pipeline_event(
    event: Mapping[str, Any], body: kopf.Body, namespace: str | None, name: str, patch: kopf.Patch, **_: Any
) -> None:
    key = (namespace or "", name)
    if event.get("type") == "DELETED":
        forget(*key)
        return
    data: Mapping[str, Any] = cast(Mapping[str, Any], body)
    release_old_finalizer(data, patch)
    if data["metadata"].get("deletionTimestamp"):
        return
    now = time.time()
    with runtime.lock:
        known = runtime.known.get(key)
        due = needs_reconcile(data, known, now)
        if known is None or known.uid != data["metadata"]["uid"]:
            # Spread the full resyncs of pipelines seen together (an operator start) over the period.
            last = now - random.uniform(0, FULL_RESYNC_SECONDS)
            known = runtime.known[key] = Known(data["metadata"]["uid"], None, last)
        known.deadline = earliest_deadline(data)
    if due:
        runtime.submit(*key, due)


def release_old_finalizer(body: Mapping[str, Any], patch: kopf.Patch) -> None:
    """Remove the finalizer earlier versions put on the pipeline (kopf applies the patch)."""
    finalizers = list(body["metadata"].get("finalizers") or [])
    if OLD_FINALIZER in finalizers:
        patch.metadata["finalizers"] = [f for f in finalizers if f != OLD_FINALIZER]
        log.info(
            "released the finalizer of an earlier operator version",
            extra={"namespace": body["metadata"].get("namespace"), "pipeline": body["metadata"]["name"]},
        )


def forget(namespace: str, name: str) -> None:
    runtime.forget((namespace, name))
    metrics.PHASES.forget(namespace, name)
    log.info(
        "pipeline deleted; children are garbage-collected", extra={"namespace": namespace, "pipeline": name}
    )


def due_pipelines(
    known: Mapping[tuple[str, str], Known], now: float, full_resync_seconds: float
) -> list[tuple[tuple[str, str], str]]:
    """(pipeline, trigger) of every pipeline whose deadline passed or that was not reconciled for
    full_resync_seconds (both "timer", the trigger the per-pipeline kopf timer used to be)."""
    due = []
    for key, entry in known.items():
        if (entry.deadline is not None and entry.deadline <= now) or (
            now - entry.last_reconciled >= full_resync_seconds
        ):
            due.append((key, "timer"))
    return due


def _resync_loop() -> None:
    """Backoff deadlines, start timeouts and the healthy-period reset are time-driven; so is the repair
    of drift no event reports. One loop for all pipelines, reading only what the watch keeps."""
    while not runtime.stopping.wait(RESYNC_SECONDS):
        now = time.time()
        with runtime.lock:
            due = due_pipelines(runtime.known, now, FULL_RESYNC_SECONDS)
            for key, _ in due:
                runtime.known[key].last_reconciled = now  # no second submit before this one runs
        for (namespace, name), trigger in due:
            runtime.submit(namespace, name, trigger)


def pod_state(body: Mapping[str, Any]) -> tuple[Any, ...]:
    """What the state machine reads from a pod, without the progress annotation the driver rewrites
    every 30 s: an event that changes none of it needs no reconciliation (the periodic resync reads the
    progress), which keeps a thousand progressing drivers from causing a thousand reconciliations."""
    meta, spec, status = body.get("metadata") or {}, body.get("spec") or {}, body.get("status") or {}
    annotations = meta.get("annotations") or {}
    containers = tuple(
        (c.get("ready"), tuple(sorted((c.get("state") or {}).items(), key=str)))
        for c in status.get("containerStatuses") or []
    )
    conditions = tuple(
        (c.get("type"), c.get("status"), c.get("reason")) for c in status.get("conditions") or []
    )
    return (
        status.get("phase"),
        meta.get("deletionTimestamp"),
        annotations.get(n.ANNOTATION_SPEC_HASH),
        spec.get("nodeName"),
        conditions,
        str(containers),
    )


def deployment_state(body: Mapping[str, Any]) -> tuple[Any, ...]:
    """What the reconciler reads from a feed Deployment (feed_status, sync_deployment): ready replicas,
    the messages of conditions that are not True, its hash annotations, deletion and owners. The
    Deployment controller rewrites status timestamps and counters of a feed that cannot start (no node,
    no image) many times a minute; those events change none of this."""
    meta, status = body.get("metadata") or {}, body.get("status") or {}
    annotations = meta.get("annotations") or {}
    failing = tuple(
        (c.get("type"), c.get("status"), c.get("message"))
        for c in status.get("conditions") or []
        if c.get("status") != "True"
    )
    return (
        int(status.get("readyReplicas") or 0),
        failing,
        annotations.get(n.ANNOTATION_SPEC_HASH),
        annotations.get(n.ANNOTATION_RENDER_HASH),
        meta.get("deletionTimestamp"),
        tuple(sorted(o.get("uid", "") for o in meta.get("ownerReferences") or [])),
    )


class ChildChanges:
    """Remembers, per child uid, the state its last passed-on event showed (see pod_state and
    deployment_state) and drops events that change none of it."""

    def __init__(self) -> None:
        self._states: dict[str, tuple[Any, ...]] = {}
        self._guard = threading.Lock()

    def changed(self, event_type: str | None, body: Mapping[str, Any]) -> bool:
        uid = (body.get("metadata") or {}).get("uid", "")
        with self._guard:
            if event_type == "DELETED":
                self._states.pop(uid, None)
                return True
            state = deployment_state(body) if body.get("kind") == "Deployment" else pod_state(body)
            if self._states.get(uid) == state:
                return False
            self._states[uid] = state
            return True


_child_changes = ChildChanges()


#: component label -> the reconciliation trigger its events count as
_TRIGGERS = {n.COMPONENT_DRIVER: "pod", n.COMPONENT_EXECUTOR: "executor", n.COMPONENT_FEED: "feed"}


def on_child_event(event_type: str, obj: Mapping[str, Any]) -> None:
    """A driver pod, an executor pod (the job's capacity, status.jobs[].executors) or a feed Deployment
    of a pipeline changed: reconcile that pipeline. Events that change nothing the reconciler reads (a
    driver's progress annotation, a Deployment's status timestamps) are dropped."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    pipeline, namespace = labels.get(n.LABEL_PIPELINE), meta.get("namespace")
    trigger = _TRIGGERS.get(labels.get(n.LABEL_COMPONENT, ""))
    if not pipeline or not namespace or trigger is None:
        return
    if not _child_changes.changed(event_type, obj):
        return
    runtime.submit(namespace, pipeline, trigger)
