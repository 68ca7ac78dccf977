"""kube_io's readings of a pod, on pods as the API server sends them (plain JSON, camelCase): the
operator reads without the client's model classes. The calls themselves run against a real API server
in tests/operator."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from k2_operator import naming as n
from k2_operator.kube_io import failure_reason, observed_driver, owned_by, pod_ready, waiting_reason


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def pod(status: dict[str, Any] | None = None, **metadata: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "p-bronze-binance-driver",
            "namespace": "ns",
            "uid": "pod-uid",
            "creationTimestamp": "2026-12-01T05:00:00Z",
            "labels": {n.LABEL_JOB: "bronze-binance"},
            **metadata,
        },
        "spec": {"nodeName": "node-1", "containers": [{"name": "driver", "image": "k2"}]},
    }
    if status is not None:
        body["status"] = status
    return body


RUNNING_READY = {
    "phase": "Running",
    "conditions": [
        {"type": "PodScheduled", "status": "True"},
        {"type": "Ready", "status": "True"},
    ],
    "containerStatuses": [
        {"name": "driver", "ready": True, "restartCount": 0, "state": {"running": {"startedAt": "x"}}}
    ],
}


def test_a_running_ready_driver_is_read_with_its_hash_node_and_progress() -> None:
    annotations = {
        n.ANNOTATION_SPEC_HASH: "abc",
        n.ANNOTATION_LAST_PROGRESS: "2026-12-01T05:01:00Z",
        n.ANNOTATION_PROGRESS_INTERVAL: "30",
    }
    driver = observed_driver(pod(RUNNING_READY, annotations=annotations))
    assert driver.name == "p-bronze-binance-driver"
    assert driver.uid == "pod-uid"
    assert (driver.phase, driver.ready, driver.terminating) == ("Running", True, False)
    assert driver.spec_hash == "abc"
    assert driver.created_at == epoch("2026-12-01T05:00:00")
    assert driver.node_name == "node-1"
    assert driver.last_progress == epoch("2026-12-01T05:01:00")
    assert driver.reports_progress
    assert (driver.reason, driver.failure, driver.waiting_reason) == ("", "", "")
    assert driver.deletion_deadline is None


def test_a_pod_without_status_or_annotations_is_pending_and_not_ready() -> None:
    driver = observed_driver(pod(None))
    assert (driver.phase, driver.ready, driver.spec_hash, driver.reports_progress) == (
        "Pending",
        False,
        None,
        False,
    )
    assert driver.last_progress is None


def test_a_terminating_driver_carries_its_deletion_deadline_also_with_fractional_seconds() -> None:
    driver = observed_driver(
        pod(
            RUNNING_READY,
            deletionTimestamp="2026-12-01T05:02:00Z",
            creationTimestamp="2026-12-01T05:00:00.5Z",
        )
    )
    assert driver.terminating
    assert driver.deletion_deadline == epoch("2026-12-01T05:02:00")
    assert driver.created_at == epoch("2026-12-01T05:00:00") + 0.5


def test_an_unparsable_progress_annotation_is_no_progress() -> None:
    driver = observed_driver(pod(RUNNING_READY, annotations={n.ANNOTATION_LAST_PROGRESS: "soon"}))
    assert driver.last_progress is None


def test_ready_is_the_ready_condition_only() -> None:
    assert pod_ready(RUNNING_READY)
    assert not pod_ready({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]})
    assert not pod_ready({"phase": "Running"})
    assert not pod_ready(None)


def test_waiting_reasons_come_from_containers_then_the_scheduler() -> None:
    pulling = {
        "phase": "Pending",
        "containerStatuses": [
            {"name": "a", "state": {"waiting": {"reason": "ContainerCreating"}}},
            {"name": "b", "state": {"waiting": {"reason": "ImagePullBackOff", "message": "no such image"}}},
        ],
    }
    assert waiting_reason(pulling) == ("ImagePullBackOff", "no such image")
    creating = {
        "phase": "Pending",
        "containerStatuses": [{"state": {"waiting": {"reason": "ContainerCreating"}}}],
    }
    assert waiting_reason(creating) == ("", "")
    unschedulable = {
        "phase": "Pending",
        "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/3 nodes"}
        ],
    }
    assert waiting_reason(unschedulable) == ("Unschedulable", "0/3 nodes")
    # A running pod was scheduled, whatever an old condition says.
    assert waiting_reason({**unschedulable, "phase": "Running"}) == ("", "")
    assert waiting_reason({}) == ("", "")
    assert waiting_reason(None) == ("", "")
    driver = observed_driver(pod(pulling))
    assert (driver.waiting_reason, driver.waiting_message) == ("ImagePullBackOff", "no such image")


def test_failure_reasons_name_the_terminated_container_else_the_pod() -> None:
    terminated = {
        "phase": "Failed",
        "containerStatuses": [{"state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}],
    }
    assert failure_reason(terminated) == "OOMKilled (exit code 137)"
    no_reason = {"phase": "Failed", "containerStatuses": [{"state": {"terminated": {"exitCode": 2}}}]}
    assert failure_reason(no_reason) == "Terminated (exit code 2)"
    evicted = {"phase": "Failed", "reason": "Evicted", "message": "The node was low on memory."}
    assert failure_reason(evicted) == "Evicted The node was low on memory."
    assert failure_reason(None) == ""
    driver = observed_driver(pod(terminated))
    assert (driver.phase, driver.reason, driver.failure) == (
        "Failed",
        "OOMKilled (exit code 137)",
        "oom_killed",
    )


def test_owned_by_reads_the_owner_references_of_plain_json() -> None:
    executor = pod(RUNNING_READY, ownerReferences=[{"kind": "Pod", "name": "d", "uid": "driver-uid"}])
    assert owned_by(executor, "driver-uid")
    assert not owned_by(executor, "other")
    assert not owned_by(pod(RUNNING_READY), "driver-uid")
