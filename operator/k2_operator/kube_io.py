"""The operator's calls to the API server, and nothing else: read children, create/replace/delete them,
patch the pipeline's status. Every read goes to the API server (no cache), so a decision never rests on
a stale view of what exists; creates are idempotent (fixed names, 409 means it is there already).

Reads are decoded as plain JSON (``_preload_content=False``, then json.loads), never into the client's
generated model classes: building those objects (validated on every field) cost several times the
JSON decoding, and the periodic resync reads every pipeline's children. Everything read here is a dict
in the API's own (camelCase) shape."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from k2_operator import naming as n
from k2_operator.pipeline_status import from_rfc3339
from k2_operator.spec_hash import hash_of, same_child
from k2_operator.state_machine import Executors, ObservedDriver
from k2_shared.contracts import TERMINATION_BATCH_FAILED, TERMINATION_CHECKPOINT_WRITE_FAILED

log = logging.getLogger("k2_operator.kube")

NOT_FOUND = 404
CONFLICT = 409
FORBIDDEN = 403


def new_api_client() -> client.ApiClient:
    """In a pod: the pod's ServiceAccount; elsewhere: $KUBECONFIG or ~/.kube/config."""
    try:
        config.load_incluster_config()
        return client.ApiClient()
    except config.ConfigException:
        return config.new_client_from_config()


class KubeApi:
    def __init__(self, api_client: client.ApiClient) -> None:
        self.api_client = api_client
        # Typed as Any: the bodies sent are plain dicts (the client takes them), not its model classes.
        self.core: Any = client.CoreV1Api(api_client)
        self.rbac: Any = client.RbacAuthorizationV1Api(api_client)
        self.custom: Any = client.CustomObjectsApi(api_client)
        self.apps: Any = client.AppsV1Api(api_client)
        self.policy: Any = client.PolicyV1Api(api_client)

    # --- the pipeline ----------------------------------------------------------------------------

    def get_pipeline(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            body: dict[str, Any] = _json(
                self.custom.get_namespaced_custom_object(
                    n.GROUP, n.VERSION, namespace, n.PLURAL, name, _preload_content=False
                )
            )
        except ApiException as error:
            if error.status == NOT_FOUND:
                return None
            raise
        return body

    def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        _write(
            self.custom.patch_namespaced_custom_object_status,
            n.GROUP,
            n.VERSION,
            namespace,
            n.PLURAL,
            name,
            {"status": status},
        )

    # --- reading children ------------------------------------------------------------------------

    def job_pods(self, namespace: str, pipeline: str) -> list[dict[str, Any]]:
        """The pipeline's driver and executor pods, in one list (see driver_pods and executors)."""
        return self._list(self.core.list_namespaced_pod, namespace, n.job_pods_selector(pipeline))

    def driver_pods(
        self, namespace: str, job_pods: list[dict[str, Any]], owner: dict[str, Any] | None = None
    ) -> dict[str, ObservedDriver]:
        """The driver pods among ``job_pods`` by job; with ``owner``, pods another pipeline of the same
        name (deleted, then re-created) left behind are adopted first."""
        pods = [pod for pod in job_pods if _component(pod) == n.COMPONENT_DRIVER]
        if owner is not None:
            for pod in pods:
                meta = pod["metadata"]
                if not meta.get("deletionTimestamp") and not owned_by(pod, owner["uid"]):
                    child = {"name": meta["name"], "namespace": namespace}
                    self.adopt({"kind": "Pod", "metadata": child}, owner)
        return {pod["metadata"]["labels"][n.LABEL_JOB]: observed_driver(pod) for pod in pods}

    @staticmethod
    def executors(
        job_pods: list[dict[str, Any]], planned: dict[str, int], drivers: dict[str, ObservedDriver]
    ) -> dict[str, Executors]:
        """Per job, its Ready executor pods (among ``job_pods``) against the plan, and why one is not
        up. Only executors owned by the job's current driver pod count (Spark makes the driver their
        owner; a replaced driver's executors linger until the garbage collector removes them)."""
        pods = [pod for pod in job_pods if _component(pod) == n.COMPONENT_EXECUTOR]
        ready: dict[str, int] = dict.fromkeys(planned, 0)
        why: dict[str, str] = {}
        for pod in pods:
            meta, status = pod["metadata"], pod.get("status")
            job = (meta.get("labels") or {}).get(n.LABEL_JOB)
            if job not in ready or meta.get("deletionTimestamp") is not None:
                continue
            driver = drivers.get(job)
            if driver is None or not owned_by(pod, driver.uid):
                continue
            if pod_ready(status):
                ready[job] += 1
            elif job not in why:
                reason, message = waiting_reason(status)
                state = reason or (status or {}).get("phase") or "Pending"
                why[job] = f"executor {meta['name']} {state}" + (f": {message}" if message else "")
        return {job: Executors(ready[job], count, why.get(job, "")) for job, count in planned.items()}

    def node_state(self, name: str) -> str:
        """Ready | NotReady | Gone (no such Node) | "" (not allowed to read nodes: namespaced mode)."""
        try:
            node = _json(self.core.read_node(name, _preload_content=False))
        except ApiException as error:
            if error.status == NOT_FOUND:
                return "Gone"
            if error.status == FORBIDDEN:
                return ""
            raise
        for condition in (node.get("status") or {}).get("conditions") or []:
            if condition.get("type") == "Ready":
                return "Ready" if condition.get("status") == "True" else "NotReady"
        return "NotReady"

    def config_maps(self, namespace: str, pipeline: str) -> list[dict[str, Any]]:
        """Every ConfigMap of the pipeline: the jobs' (see by_job) and the quality report."""
        return self._list(self.core.list_namespaced_config_map, namespace, n.children_selector(pipeline))

    def services(self, namespace: str, pipeline: str) -> dict[str, dict[str, Any]]:
        items = self._list(self.core.list_namespaced_service, namespace, n.children_selector(pipeline))
        return by_job(items, "Service")

    def deployments(self, namespace: str, pipeline: str) -> list[dict[str, Any]]:
        """Every Deployment of the pipeline: its feeds (see feed_deployments) and its quality process."""
        return self._list(self.apps.list_namespaced_deployment, namespace, n.children_selector(pipeline))

    def ensure_config_map(self, config_map: dict[str, Any]) -> None:
        """Create it unless it exists; never overwrite (its data belongs to whoever writes it)."""
        namespace = config_map["metadata"]["namespace"]
        self._create(self.core.create_namespaced_config_map, namespace, config_map)

    def disruption_budgets(self, namespace: str, pipeline: str) -> dict[str, dict[str, Any]]:
        """job -> the PodDisruptionBudget of its driver."""
        items = self._list(
            self.policy.list_namespaced_pod_disruption_budget, namespace, n.children_selector(pipeline)
        )
        return {
            item["metadata"]["labels"][n.LABEL_JOB]: {**item, "kind": "PodDisruptionBudget"}
            for item in items
            if n.LABEL_JOB in item["metadata"].get("labels", {})
        }

    def create_disruption_budget(self, budget: dict[str, Any]) -> bool:
        namespace = budget["metadata"]["namespace"]
        return self._create(self.policy.create_namespaced_pod_disruption_budget, namespace, budget)

    @staticmethod
    def _list(list_call: Any, namespace: str, selector: str) -> list[dict[str, Any]]:
        """The items of a namespaced list by label selector, as plain JSON."""
        items: list[dict[str, Any]] = (
            _json(list_call(namespace, label_selector=selector, _preload_content=False)).get("items") or []
        )
        return items

    # --- writing children ------------------------------------------------------------------------

    def create_pod(self, pod: dict[str, Any]) -> bool:
        """False when a pod of that name exists already (a crashed run created it)."""
        return self._create(self.core.create_namespaced_pod, pod["metadata"]["namespace"], pod)

    def delete_pod(self, namespace: str, name: str, force: bool = False) -> None:
        """``force``: grace period 0, the pod object goes at once (only for a pod whose node is gone)."""
        try:
            if force:
                _write(self.core.delete_namespaced_pod, name, namespace, grace_period_seconds=0)
            else:
                _write(self.core.delete_namespaced_pod, name, namespace)
        except ApiException as error:
            if error.status != NOT_FOUND:
                raise

    def delete_child(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        delete = {
            "ConfigMap": self.core.delete_namespaced_config_map,
            "Service": self.core.delete_namespaced_service,
            "Deployment": self.apps.delete_namespaced_deployment,
            "PodDisruptionBudget": self.policy.delete_namespaced_pod_disruption_budget,
        }[obj["kind"]]
        try:
            _write(delete, meta["name"], meta["namespace"])
        except ApiException as error:
            if error.status != NOT_FOUND:
                raise

    def sync_config_map(self, desired: dict[str, Any], existing: dict[str, Any] | None) -> bool:
        """Create or replace the ConfigMap when its spec or render hash differs; True when written."""
        if same_child(existing, desired):
            return False
        namespace, name = desired["metadata"]["namespace"], desired["metadata"]["name"]
        if existing is None:
            if self._create(self.core.create_namespaced_config_map, namespace, desired):
                return True
            existing = _json(self.core.read_namespaced_config_map(name, namespace, _preload_content=False))
        body = _with_resource_version(desired, existing)
        _write(self.core.replace_namespaced_config_map, name, namespace, body)
        return True

    def sync_service(self, desired: dict[str, Any], existing: dict[str, Any] | None) -> bool:
        if same_child(existing, desired):
            return False
        namespace, name = desired["metadata"]["namespace"], desired["metadata"]["name"]
        if existing is None:
            if self._create(self.core.create_namespaced_service, namespace, desired):
                return True
            existing = _json(self.core.read_namespaced_service(name, namespace, _preload_content=False))
        body = _with_resource_version(desired, existing)
        body["spec"]["clusterIP"] = existing["spec"].get("clusterIP")  # immutable
        _write(self.core.replace_namespaced_service, name, namespace, body)
        return True

    def sync_deployment(self, desired: dict[str, Any], existing: dict[str, Any] | None) -> bool:
        """Create or replace a feed Deployment when its hash differs; True when something was written."""
        if existing is not None and hash_of(existing) == hash_of(desired):
            return False
        namespace, name = desired["metadata"]["namespace"], desired["metadata"]["name"]
        if existing is None:
            if self._create(self.apps.create_namespaced_deployment, namespace, desired):
                return True
            existing = _json(self.apps.read_namespaced_deployment(name, namespace, _preload_content=False))
        _write(
            self.apps.replace_namespaced_deployment,
            name,
            namespace,
            _with_resource_version(desired, existing),
        )
        return True

    def ensure_owned(self, objects: list[dict[str, Any]]) -> bool:
        """Create each object (ServiceAccount, Role, RoleBinding, ConfigMap), or bring the one that exists
        back to what is wanted: owned by this pipeline, and for RBAC with the wanted rules, roleRef and
        subjects. A pipeline deleted and re-created under the same name finds its predecessor's objects,
        which the garbage collector is about to delete: they are re-owned (or re-created once gone).
        False when one was still being deleted (the caller tries again on its next reconciliation)."""
        return all([self._ensure_one(obj) for obj in objects])

    def _ensure_one(self, want: dict[str, Any]) -> bool:
        kind, meta = want["kind"], want["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        create, read, patch, delete = self._ops(kind)
        if self._create(create, namespace, want):
            return True
        current = _json(read(name, namespace, _preload_content=False))
        if current["metadata"].get("deletionTimestamp"):
            return False
        if kind == "RoleBinding" and current.get("roleRef") != want["roleRef"]:
            _write(delete, name, namespace)  # roleRef is immutable: an earlier version bound a Role
            return self._create(create, namespace, want)
        operations = []
        if not owned_by(current, meta["ownerReferences"][0]["uid"]):
            operations.append(
                {"op": "add", "path": "/metadata/ownerReferences", "value": meta["ownerReferences"]}
            )
        for field_name in ("rules", "subjects"):
            if field_name in want and current.get(field_name) != want[field_name]:
                operations.append({"op": "add", "path": f"/{field_name}", "value": want[field_name]})
        if operations:
            _write(patch, name, namespace, operations)
            log.info("re-owned or repaired %s %s", kind, name, extra={"namespace": namespace})
        return True

    def adopt(self, obj: dict[str, Any], owner: dict[str, Any]) -> None:
        """Make ``owner`` the controller of a child a deleted pipeline of the same name left behind."""
        meta = obj["metadata"]
        _, _, patch, _ = self._ops(obj["kind"])
        operations = [{"op": "add", "path": "/metadata/ownerReferences", "value": [owner]}]
        try:
            _write(patch, meta["name"], meta["namespace"], operations)
        except ApiException as error:
            if error.status != NOT_FOUND:
                raise
            return
        log.info("adopted %s %s", obj["kind"], meta["name"], extra={"namespace": meta["namespace"]})

    def _ops(self, kind: str) -> tuple[Any, Any, Any, Any]:
        """create, read, patch and delete of one kind (namespaced)."""
        core, rbac, apps = self.core, self.rbac, self.apps
        return {
            "ServiceAccount": (
                core.create_namespaced_service_account,
                core.read_namespaced_service_account,
                core.patch_namespaced_service_account,
                core.delete_namespaced_service_account,
            ),
            "Role": (
                rbac.create_namespaced_role,
                rbac.read_namespaced_role,
                rbac.patch_namespaced_role,
                rbac.delete_namespaced_role,
            ),
            "RoleBinding": (
                rbac.create_namespaced_role_binding,
                rbac.read_namespaced_role_binding,
                rbac.patch_namespaced_role_binding,
                rbac.delete_namespaced_role_binding,
            ),
            "ConfigMap": (
                core.create_namespaced_config_map,
                core.read_namespaced_config_map,
                core.patch_namespaced_config_map,
                core.delete_namespaced_config_map,
            ),
            "Service": (
                core.create_namespaced_service,
                core.read_namespaced_service,
                core.patch_namespaced_service,
                core.delete_namespaced_service,
            ),
            "Pod": (
                core.create_namespaced_pod,
                core.read_namespaced_pod,
                core.patch_namespaced_pod,
                core.delete_namespaced_pod,
            ),
            "PodDisruptionBudget": (
                self.policy.create_namespaced_pod_disruption_budget,
                self.policy.read_namespaced_pod_disruption_budget,
                self.policy.patch_namespaced_pod_disruption_budget,
                self.policy.delete_namespaced_pod_disruption_budget,
            ),
            "Deployment": (
                apps.create_namespaced_deployment,
                apps.read_namespaced_deployment,
                apps.patch_namespaced_deployment,
                apps.delete_namespaced_deployment,
            ),
        }[kind]

    @staticmethod
    def _create(call: Any, *args: Any) -> bool:
        """True when created; False when an object of that name exists already (409)."""
        try:
            _write(call, *args)
        except ApiException as error:
            if error.status == CONFLICT:
                return False
            raise
        return True


def _with_resource_version(desired: dict[str, Any], existing: dict[str, Any]) -> dict[str, Any]:
    metadata = {**desired["metadata"], "resourceVersion": existing["metadata"]["resourceVersion"]}
    return (
        {**desired, "metadata": metadata, "spec": dict(desired["spec"])}
        if "spec" in desired
        else {
            **desired,
            "metadata": metadata,
        }
    )


def owned_by(obj: dict[str, Any], uid: str) -> bool:
    """True when ``uid`` is among the object's owners."""
    return any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or [])


def by_job(items: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    """job -> its object, of the listed ``items`` that belong to a job."""
    # Items of a list carry no kind; delete_child needs it.
    return {
        obj["metadata"]["labels"][n.LABEL_JOB]: {**obj, "kind": kind}
        for obj in items
        if n.LABEL_JOB in (obj["metadata"].get("labels") or {})
    }


def feed_deployments(deployments: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """exchange -> its feed Deployment, of a pipeline's Deployments."""
    return {
        obj["metadata"]["labels"][n.LABEL_EXCHANGE]: {**obj, "kind": "Deployment"}
        for obj in deployments
        if _component(obj) == n.COMPONENT_FEED and n.LABEL_EXCHANGE in obj["metadata"]["labels"]
    }


def named(items: list[dict[str, Any]], name: str, kind: str) -> dict[str, Any] | None:
    """The listed object called ``name`` (None when there is none)."""
    for obj in items:
        if obj["metadata"]["name"] == name:
            return {**obj, "kind": kind}
    return None


def _component(obj: dict[str, Any]) -> str | None:
    labels: dict[str, str] = obj["metadata"].get("labels") or {}
    return labels.get(n.LABEL_COMPONENT)


def _write(call: Any, *args: Any, **kwargs: Any) -> None:
    """A create, replace, patch or delete whose response body (the object as stored) is not used: read
    as bytes and dropped, never decoded into the client's model classes (for a pod that decoding cost
    more client time than the request itself). Errors still raise ApiException."""
    call(*args, **kwargs, _preload_content=False).read()


def _json(response: Any) -> Any:
    """The body of a response read with ``_preload_content=False``, decoded."""
    return json.loads(response.data)


def _timestamp(text: str) -> float:
    """Epoch seconds of an API timestamp (RFC 3339: ``2026-01-02T03:04:05Z``, fractions allowed)."""
    try:
        return from_rfc3339(text)
    except ValueError:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def observed_driver(pod: Mapping[str, Any]) -> ObservedDriver:
    meta, status, spec = pod["metadata"], pod.get("status"), pod.get("spec") or {}
    annotations = meta.get("annotations") or {}
    waiting, message = waiting_reason(status)
    deletion = meta.get("deletionTimestamp")
    return ObservedDriver(
        name=meta["name"],
        uid=meta.get("uid") or "",
        phase=(status or {}).get("phase") or "Pending",
        spec_hash=annotations.get(n.ANNOTATION_SPEC_HASH),
        created_at=_timestamp(meta["creationTimestamp"]),
        terminating=deletion is not None,
        reason=failure_reason(status),
        failure=failure_class(status),
        ready=pod_ready(status),
        waiting_reason=waiting,
        waiting_message=message,
        node_name=spec.get("nodeName") or "",
        deletion_deadline=_timestamp(deletion) if deletion else None,
        last_progress=_time_or_none(annotations.get(n.ANNOTATION_LAST_PROGRESS)),
        reports_progress=n.ANNOTATION_PROGRESS_INTERVAL in annotations,
    )


def _time_or_none(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return from_rfc3339(text)
    except ValueError:
        return None  # whatever else was written there is no progress report


def _container_states(status: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The ``state`` of each container of a pod's status ({} where a container has none)."""
    return [container.get("state") or {} for container in status.get("containerStatuses") or []]


def pod_ready(status: Mapping[str, Any] | None) -> bool:
    """The pod's Ready condition (its containers' readiness probes pass)."""
    for condition in (status or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def waiting_reason(status: Mapping[str, Any] | None) -> tuple[str, str]:
    """Why a pod is not running yet: a container's waiting reason (ImagePullBackOff,
    CreateContainerConfigError, ...) or the scheduler's (Unschedulable), with its message."""
    if status is None:
        return "", ""
    for state in _container_states(status):
        waiting = state.get("waiting") or {}
        reason = waiting.get("reason")
        if reason and reason != "ContainerCreating":
            return str(reason), str(waiting.get("message") or "")
    if status.get("phase") not in (None, "Pending"):
        return "", ""  # a running pod was scheduled, whatever an old condition says
    for condition in status.get("conditions") or []:
        if (
            condition.get("type") == "PodScheduled"
            and condition.get("status") == "False"
            and condition.get("reason")
        ):
            return str(condition["reason"]), str(condition.get("message") or "")
    return "", ""


def failure_class(status: Mapping[str, Any] | None) -> str:
    """A terminated driver's failure as one of contracts.DRIVER_FAILURE_REASONS: the reason the job
    wrote to its termination message, else OOMKilled, else a plain error ("" while none terminated)."""
    if status is None:
        return ""
    for state in _container_states(status):
        terminated = state.get("terminated")
        if terminated is None or not terminated.get("exitCode"):
            continue
        first_line = (terminated.get("message") or "").strip().split("\n", 1)[0].strip()
        if first_line in (TERMINATION_CHECKPOINT_WRITE_FAILED, TERMINATION_BATCH_FAILED):
            return first_line
        return "oom_killed" if terminated.get("reason") == "OOMKilled" else "error"
    return ""


def failure_reason(status: Mapping[str, Any] | None) -> str:
    """The most specific reason a pod gives: a terminated container's reason and exit code, else the pod's."""
    if status is None:
        return ""
    for state in _container_states(status):
        terminated = state.get("terminated")
        if terminated is not None:
            return f"{terminated.get('reason') or 'Terminated'} (exit code {terminated.get('exitCode')})"
    return " ".join(part for part in (status.get("reason"), status.get("message")) if part)
