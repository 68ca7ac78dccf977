"""kopf handlers: thin. Every trigger (create, update, resume, the periodic timer, a driver pod event)
runs the same reconciliation of the pipeline, read fresh from the API server, one at a time per pipeline.

Run: ``python -m k2_operator`` (or ``kopf run --standalone -A -m k2_operator.handlers``).
Environment: K2_OPERATOR_RESYNC_SECONDS (timer interval, default 10), K2_OPERATOR_FULL_RESYNC_SECONDS
(reconcile at least this often even when nothing is due, default 60), K2_OPERATOR_METRICS_PORT (8080,
0 = off), K2_OPERATOR_METRICS_ADDRESS (0.0.0.0), K2_OPERATOR_WATCH_NAMESPACES (see __main__).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import Any, cast

import kopf
from kubernetes.client.exceptions import ApiException

from k2_operator import naming as n
from k2_operator import operator_metrics as metrics
from k2_operator.coalescer import Coalescer
from k2_operator.kube_io import KubeApi, new_api_client
from k2_operator.reconciler import Reconciler, deadline_due

log = logging.getLogger("k2_operator.handlers")

RESYNC_SECONDS = float(os.environ.get("K2_OPERATOR_RESYNC_SECONDS", "10"))
FULL_RESYNC_SECONDS = float(os.environ.get("K2_OPERATOR_FULL_RESYNC_SECONDS", "60"))
METRICS_PORT = int(os.environ.get("K2_OPERATOR_METRICS_PORT", "8080"))
METRICS_ADDRESS = os.environ.get("K2_OPERATOR_METRICS_ADDRESS", "0.0.0.0")
FINALIZER = f"{n.GROUP}/operator"
KOPF_PREFIX = f"kopf.{n.GROUP}"
FORBIDDEN = 403

_state: dict[str, Reconciler] = {}
_coalescer = Coalescer()
_last_reconciled: dict[tuple[str, str], float] = {}


def reconciler() -> Reconciler:
    if "reconciler" not in _state:
        _state["reconciler"] = Reconciler(KubeApi(new_api_client()))
    return _state["reconciler"]


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.peering.standalone = True  # one replica; the Deployment never runs two
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=KOPF_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=KOPF_PREFIX)
    settings.posting.enabled = True
    settings.posting.loggers = False  # Events are posted explicitly, one per transition
    settings.execution.max_workers = 8
    if os.environ.get("K2_OPERATOR_WATCH_NAMESPACES", "").strip():
        # Namespaced mode holds Roles only: no cluster-wide listing of namespaces and CRDs (kopf would
        # try, get 403 and warn); the watched namespaces are named exactly and the CRD exists first.
        settings.scanning.disabled = True
    if METRICS_PORT:
        metrics.serve(METRICS_PORT, METRICS_ADDRESS)
    log.info("k2-operator started", extra={"resync_seconds": RESYNC_SECONDS, "metrics_port": METRICS_PORT})


def reconcile_named(namespace: str, name: str, trigger: str) -> None:
    _coalescer.run((namespace, name), lambda: _reconcile_once(namespace, name, trigger))


def _reconcile_once(namespace: str, name: str, trigger: str) -> None:
    rec = reconciler()
    body = rec.api.get_pipeline(namespace, name)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return
    metrics.RECONCILIATIONS.labels(trigger).inc()
    _last_reconciled[(namespace, name)] = time.time()
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
        kopf.event(cast(kopf.Body, body), type=event.type, reason=event.reason, message=event.message)


@kopf.on.create(n.GROUP, n.VERSION, n.PLURAL)
@kopf.on.update(n.GROUP, n.VERSION, n.PLURAL, field="spec")
@kopf.on.resume(n.GROUP, n.VERSION, n.PLURAL)
def on_pipeline_change(namespace: str | None, name: str, reason: str, **_: Any) -> None:
    reconcile_named(namespace or "", name, str(reason))


@kopf.timer(n.GROUP, n.VERSION, n.PLURAL, interval=RESYNC_SECONDS, initial_delay=RESYNC_SECONDS)
def on_resync(namespace: str | None, name: str, body: kopf.Body, **_: Any) -> None:
    """Backoff deadlines, start timeouts and the healthy-period reset are time-driven: reconcile when
    one is due (read from kopf's copy of the pipeline, no API call), and in any case every
    FULL_RESYNC_SECONDS to repair drift no event reports (e.g. a deleted ConfigMap)."""
    key = (namespace or "", name)
    now = time.time()
    if now - _last_reconciled.get(key, 0.0) < FULL_RESYNC_SECONDS and not deadline_due(body, now):
        return
    reconcile_named(*key, "timer")


_pod_states: dict[str, tuple[Any, ...]] = {}


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


def _changed(uid: str, event_type: str | None, body: Mapping[str, Any]) -> bool:
    if event_type == "DELETED":
        _pod_states.pop(uid, None)
        return True
    state = pod_state(body)
    if _pod_states.get(uid) == state:
        return False
    _pod_states[uid] = state
    return True


@kopf.on.event(
    "", "v1", "pods", labels={n.LABEL_COMPONENT: n.COMPONENT_DRIVER, n.LABEL_MANAGED_BY: n.MANAGER}
)
def on_driver_pod_event(
    namespace: str | None,
    labels: Mapping[str, str],
    uid: str,
    event: Mapping[str, Any],
    body: kopf.Body,
    **_: Any,
) -> None:
    pipeline = labels.get(n.LABEL_PIPELINE)
    if pipeline and namespace and _changed(uid, event.get("type"), body):
        reconcile_named(namespace, pipeline, "pod")


@kopf.on.event(
    "", "v1", "pods", labels={n.LABEL_COMPONENT: n.COMPONENT_EXECUTOR, n.LABEL_MANAGED_BY: n.MANAGER}
)
def on_executor_pod_event(
    namespace: str | None,
    labels: Mapping[str, str],
    uid: str,
    event: Mapping[str, Any],
    body: kopf.Body,
    **_: Any,
) -> None:
    """An executor came up or went away: the job's capacity (status.jobs[].executors) follows."""
    pipeline = labels.get(n.LABEL_PIPELINE)
    if pipeline and namespace and _changed(uid, event.get("type"), body):
        reconcile_named(namespace, pipeline, "executor")


@kopf.on.event(
    "apps", "v1", "deployments", labels={n.LABEL_COMPONENT: n.COMPONENT_FEED, n.LABEL_MANAGED_BY: n.MANAGER}
)
def on_feed_deployment_event(namespace: str | None, labels: Mapping[str, str], **_: Any) -> None:
    """A feed became (un)available: its entry in status.feeds follows."""
    pipeline = labels.get(n.LABEL_PIPELINE)
    if pipeline and namespace:
        reconcile_named(namespace, pipeline, "feed")


@kopf.on.delete(n.GROUP, n.VERSION, n.PLURAL, optional=True)
def on_pipeline_delete(namespace: str | None, name: str, **_: Any) -> None:
    """Children go with the pipeline through their ownerReferences (the garbage collector)."""
    metrics.PHASES.forget(namespace or "", name)
    _last_reconciled.pop((namespace or "", name), None)
    log.info(
        "pipeline deleted; children are garbage-collected", extra={"namespace": namespace, "pipeline": name}
    )
