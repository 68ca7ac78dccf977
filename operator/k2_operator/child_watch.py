"""Watches of the operator's own children, filtered by label on the API server.

kopf's ``labels=`` filter is applied in the operator, after the API server sent every pod of the cluster
(other people's pods too) and kopf parsed each one. These watches ask only for what the operator
labelled: driver and executor pods (``component in (driver, executor)``; Spark labels executors from the
template the operator writes) and the feed Deployments (``component=feed``), all
``managed-by=k2-operator``. Each event goes to a callback with its type and object.

One thread per watched kind and namespace (all namespaces: one per kind). Events are decoded as plain
JSON (no client model objects); a watch that expires (410 Gone) or breaks is listed again from the
last resourceVersion it knew, after a short backoff.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

from k2_operator import naming as n
from k2_operator.kube_io import KubeApi

log = logging.getLogger("k2_operator.child_watch")

GONE = 410
#: Server-side watch timeout; the watch is re-opened from its resourceVersion afterwards.
WATCH_SECONDS = 300
BACKOFF_SECONDS = (0.5, 1, 2, 5, 10)

JOB_PODS = (
    f"{n.LABEL_MANAGED_BY}={n.MANAGER},{n.LABEL_COMPONENT} in ({n.COMPONENT_DRIVER},{n.COMPONENT_EXECUTOR})"
)
FEED_DEPLOYMENTS = f"{n.LABEL_MANAGED_BY}={n.MANAGER},{n.LABEL_COMPONENT}={n.COMPONENT_FEED}"

#: (event type, object): ADDED / MODIFIED / DELETED and the object as plain JSON
OnChild = Callable[[str, Mapping[str, Any]], None]


@dataclass
class Watched:
    kind: str
    selector: str
    #: list function for one namespace, and for all namespaces
    namespaced: Callable[..., Any]
    cluster: Callable[..., Any]


class ChildWatches:
    def __init__(self, api: KubeApi, namespaces: list[str], on_child: OnChild, stop: threading.Event) -> None:
        self.api, self.namespaces, self.on_child, self.stop = api, namespaces, on_child, stop
        self.kinds = (
            Watched("pods", JOB_PODS, api.core.list_namespaced_pod, api.core.list_pod_for_all_namespaces),
            Watched(
                "deployments",
                FEED_DEPLOYMENTS,
                api.apps.list_namespaced_deployment,
                api.apps.list_deployment_for_all_namespaces,
            ),
        )

    def start(self) -> list[threading.Thread]:
        threads = []
        for kind in self.kinds:
            scopes: list[str | None] = list(self.namespaces) or [None]
            for namespace in scopes:
                thread = threading.Thread(
                    target=self._run,
                    args=(kind, namespace),
                    name=f"watch-{kind.kind}-{namespace or 'all'}",
                    daemon=True,
                )
                thread.start()
                threads.append(thread)
        return threads

    def _list(self, kind: Watched, namespace: str | None, **kwargs: Any) -> Any:
        if namespace is None:
            return kind.cluster(label_selector=kind.selector, _preload_content=False, **kwargs)
        return kind.namespaced(namespace, label_selector=kind.selector, _preload_content=False, **kwargs)

    def _run(self, kind: Watched, namespace: str | None) -> None:
        resource_version: str | None = None
        failures = 0
        while not self.stop.is_set():
            try:
                if resource_version is None:
                    listed = json.loads(self._list(kind, namespace).data)
                    resource_version = listed["metadata"]["resourceVersion"]
                resource_version = self._watch(kind, namespace, resource_version)
                failures = 0
            except ApiException as error:
                if error.status == GONE:
                    resource_version = None
                    continue
                failures += 1
                log.warning(
                    "watch failed; retrying",
                    extra={"kind": kind.kind, "namespace": namespace, "status": error.status},
                )
            except Exception as error:  # a dropped connection: re-open from where it was
                failures += 1
                log.info("watch broke; re-opening", extra={"kind": kind.kind, "error": str(error)})
            if failures:
                self.stop.wait(BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS)) - 1])

    def _watch(self, kind: Watched, namespace: str | None, resource_version: str) -> str | None:
        """Stream events until the server ends the watch; returns the resourceVersion to continue from
        (None: list again)."""
        response = self._list(
            kind,
            namespace,
            watch=True,
            resource_version=resource_version,
            allow_watch_bookmarks=True,
            timeout_seconds=WATCH_SECONDS,
            _request_timeout=(10, WATCH_SECONDS + 30),
        )
        try:
            for line in iter_resp_lines(response):
                if self.stop.is_set():
                    break
                event = json.loads(line)
                obj = event.get("object") or {}
                if event.get("type") == "ERROR":
                    if obj.get("code") == GONE:
                        return None
                    raise ApiException(status=obj.get("code"), reason=obj.get("message"))
                meta = obj.get("metadata") or {}
                resource_version = meta.get("resourceVersion") or resource_version
                if event.get("type") == "BOOKMARK":
                    continue
                self.on_child(str(event.get("type")), obj)
        finally:
            response.release_conn()
        return resource_version
