"""Kubernetes Events on a pipeline, posted by the reconciliation's own thread (core/v1, as kopf and
`kubectl describe` show them). kopf.event() works only inside kopf's per-object handling tasks; the
operator reconciles on its own worker pool, so it posts directly."""

from __future__ import annotations

import datetime
import logging
import socket
from typing import Any

from kubernetes.client.exceptions import ApiException

from k2_operator import naming as n

log = logging.getLogger("k2_operator.events")

MAX_MESSAGE = 1024
COMPONENT = n.MANAGER
INSTANCE = socket.gethostname()[:128] or COMPONENT


def event_body(pipeline: dict[str, Any], type_: str, reason: str, message: str) -> dict[str, Any]:
    meta = pipeline["metadata"]
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE // 2 - 2] + " .. " + message[-(MAX_MESSAGE // 2 - 2) :]
    now = datetime.datetime.now(datetime.UTC)
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"namespace": meta["namespace"], "generateName": f"{meta['name']}."},
        "type": type_,
        "reason": reason,
        "message": message,
        "action": "Reconcile",
        "reportingComponent": COMPONENT,
        "reportingInstance": INSTANCE,
        "source": {"component": COMPONENT},  # the "From" column of `kubectl describe`
        "involvedObject": {
            "apiVersion": n.API_VERSION,
            "kind": n.KIND,
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
            "resourceVersion": meta.get("resourceVersion"),
        },
        "count": 1,
        "firstTimestamp": now.isoformat(),
        "lastTimestamp": now.isoformat(),
        "eventTime": now.isoformat(timespec="microseconds"),
    }


def post(core: Any, pipeline: dict[str, Any], type_: str, reason: str, message: str) -> None:
    """Post one Event; a failure is logged, never raised (an Event is a report, not state)."""
    body = event_body(pipeline, type_, reason, message)
    try:
        # Read (and drop) the answer: an unread raw response keeps its connection, and the next
        # request then opens a new TLS connection (~3 ms of CPU more, measured).
        _ = core.create_namespaced_event(body["metadata"]["namespace"], body, _preload_content=False).data
    except ApiException as error:
        log.warning(
            "event not posted",
            extra={"pipeline": pipeline["metadata"]["name"], "reason": reason, "status": error.status},
        )
