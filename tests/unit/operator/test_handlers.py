"""The kopf wiring's own decisions, without kopf running: when a pipeline event calls for a
reconciliation, what the resync loop picks, that no handler makes kopf put a finalizer on a pipeline,
and that the finalizer of earlier operator versions is released."""

from __future__ import annotations

from typing import Any

import kopf
import pytest
import yaml
from k2_operator import handlers
from k2_operator import naming as n
from k2_operator.handlers import OLD_FINALIZER, Known, due_pipelines, needs_reconcile, release_old_finalizer
from kopf._cogs.structs import bodies, patches
from kopf._core.intents import causes, registries

from tests.fixtures.kube_fixtures import REPO_ROOT

pytestmark = pytest.mark.unit

EXAMPLE = yaml.safe_load((REPO_ROOT / "examples" / "streamingpipeline.yaml").read_text())


def body(generation: int = 1, observed: int | None = 1, **meta: Any) -> dict[str, Any]:
    status = {} if observed is None else {"observedGeneration": observed}
    return {
        "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "generation": generation, **meta},
        "spec": EXAMPLE["spec"],
        "status": status,
    }


def test_a_pipeline_is_reconciled_when_new_when_its_spec_changed_or_when_a_deadline_passed() -> None:
    seen = Known("u1", deadline=None, last_reconciled=0.0)
    assert needs_reconcile(body(observed=None), None, 100.0) == "create"  # no status yet: created
    assert needs_reconcile(body(), None, 100.0) == "resume"  # the operator (re)started
    assert needs_reconcile(body(), Known("old-uid", None, 0.0), 100.0) == "resume"  # re-created
    assert needs_reconcile(body(generation=2, observed=1), seen, 100.0) == "update"  # spec changed
    assert needs_reconcile(body(observed=None), seen, 100.0) == "update"  # never reconciled
    # Its own status write coming back as an event: nothing to do.
    assert needs_reconcile(body(), seen, 100.0) is None
    assert needs_reconcile(body(), Known("u1", deadline=99.0, last_reconciled=0.0), 100.0) == "timer"
    assert needs_reconcile(body(), Known("u1", deadline=101.0, last_reconciled=0.0), 100.0) is None


def test_the_resync_loop_picks_due_deadlines_and_pipelines_not_reconciled_for_the_full_period() -> None:
    known = {
        ("ns", "due"): Known("a", deadline=90.0, last_reconciled=95.0),
        ("ns", "stale"): Known("b", deadline=None, last_reconciled=30.0),
        ("ns", "fresh"): Known("c", deadline=200.0, last_reconciled=95.0),
    }
    assert due_pipelines(known, 100.0, 60.0) == [(("ns", "due"), "timer"), (("ns", "stale"), "timer")]


def test_no_handler_makes_kopf_put_a_finalizer_on_a_pipeline() -> None:
    # kopf adds its finalizer when a timer, a daemon or a non-optional deletion handler serves the
    # object; then `kubectl delete` waits for the operator. None may exist for StreamingPipelines.
    registry = registries.OperatorRegistry()
    registry._changing = kopf.get_default_registry()._changing
    registry._spawning = kopf.get_default_registry()._spawning
    resource = kopf.Resource(n.GROUP, n.VERSION, n.PLURAL, kind=n.KIND, namespaced=True)
    raw = {"apiVersion": n.API_VERSION, "kind": n.KIND, **body()}
    for reason in causes.Reason:
        cause = causes.ChangingCause(
            logger=handlers.log,  # type: ignore[arg-type]
            indices=None,  # type: ignore[arg-type]
            resource=resource,
            patch=patches.Patch(),
            body=bodies.Body(raw),
            memo=None,  # type: ignore[arg-type]
            initial=reason == causes.Reason.RESUME,
            reason=reason,
        )
        assert not registry._changing.requires_finalizer(cause), reason
    spawning = kopf.get_default_registry()._spawning
    assert not [h for h in spawning._handlers if h.requires_finalizer]  # no timers, no daemons


def test_the_finalizer_of_earlier_versions_is_released_and_others_are_kept() -> None:
    patch = patches.Patch()
    release_old_finalizer(body(finalizers=[OLD_FINALIZER, "example.com/keep"]), patch)
    assert patch == {"metadata": {"finalizers": ["example.com/keep"]}}
    untouched = patches.Patch()
    release_old_finalizer(body(finalizers=["example.com/keep"]), untouched)
    assert not untouched


@pytest.fixture
def submitted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """What on_child_event hands the reconciler (namespace, pipeline, trigger), from a fresh ChildChanges."""
    calls: list[tuple[str, str, str]] = []
    monkeypatch.setattr(handlers.runtime, "submit", lambda *args: calls.append(args))
    monkeypatch.setattr(handlers, "_child_changes", handlers.ChildChanges())
    return calls


def feed_deployment(ready: int = 0, **status: Any) -> dict[str, Any]:
    labels = {n.LABEL_PIPELINE: "p", n.LABEL_COMPONENT: n.COMPONENT_FEED}
    return {
        "kind": "Deployment",
        "metadata": {
            "uid": "d1",
            "namespace": "ns",
            "labels": labels,
            "annotations": {n.ANNOTATION_SPEC_HASH: "h1"},
            "ownerReferences": [{"uid": "u1"}],
        },
        "status": {"readyReplicas": ready, **status},
    }


def unavailable(message: str, updated: str) -> list[dict[str, Any]]:
    return [
        {"type": "Available", "status": "False", "message": message, "lastUpdateTime": updated},
        {"type": "Progressing", "status": "True", "message": f"progressing at {updated}"},
    ]


def test_feed_deployment_events_reconcile_only_when_what_the_reconciler_reads_changes(
    submitted: list[tuple[str, str, str]],
) -> None:
    no_node = "Deployment does not have minimum availability."
    handlers.on_child_event("ADDED", feed_deployment())
    # The controller rewriting timestamps, counters and a True condition's message: nothing to do.
    handlers.on_child_event("MODIFIED", feed_deployment(conditions=unavailable(no_node, "t1"), replicas=1))
    handlers.on_child_event("MODIFIED", feed_deployment(conditions=unavailable(no_node, "t2"), replicas=1))
    assert len(submitted) == 2  # ADDED, and the first time Available=False showed its message
    handlers.on_child_event("MODIFIED", feed_deployment(conditions=unavailable("image pull", "t3")))
    handlers.on_child_event("MODIFIED", feed_deployment(ready=1, conditions=unavailable("image pull", "t3")))
    handed_over = feed_deployment(ready=1, conditions=unavailable("image pull", "t3"))
    handed_over["metadata"]["annotations"][n.ANNOTATION_SPEC_HASH] = "h2"
    handlers.on_child_event("MODIFIED", handed_over)
    handlers.on_child_event("DELETED", handed_over)
    assert submitted == [("ns", "p", "feed")] * 6
    handlers.on_child_event("ADDED", handed_over)  # the same uid seen again after DELETED counts again
    assert len(submitted) == 7


def test_driver_pod_events_that_only_move_the_progress_annotation_are_dropped(
    submitted: list[tuple[str, str, str]],
) -> None:

    def driver(progress: str, phase: str = "Running") -> dict[str, Any]:
        labels = {n.LABEL_PIPELINE: "p", n.LABEL_COMPONENT: n.COMPONENT_DRIVER}
        annotations = {n.ANNOTATION_SPEC_HASH: "h1", n.ANNOTATION_LAST_PROGRESS: progress}
        meta = {"uid": "pod1", "namespace": "ns", "labels": labels, "annotations": annotations}
        return {"kind": "Pod", "metadata": meta, "spec": {"nodeName": "n1"}, "status": {"phase": phase}}

    handlers.on_child_event("ADDED", driver("t1"))
    handlers.on_child_event("MODIFIED", driver("t2"))
    handlers.on_child_event("MODIFIED", driver("t3"))
    handlers.on_child_event("MODIFIED", driver("t3", phase="Failed"))
    assert submitted == [("ns", "p", "pod")] * 2
