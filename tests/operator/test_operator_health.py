"""Issue 16, items 1-4, on the real API server with the real operator process: health that means
something, lost nodes, the lifecycle (restart nonces, default restart policy, suspend/resume, invalid
specs) and upgrades without a stampede.

No kubelet runs in this tier: the tests play its part by setting pod status through the API server's
status subresource (phase, the Ready condition, container waiting states), play Spark's part by creating
executor pods from the executor pod template, and play the driver's part by writing its progress
annotation with the driver's own ServiceAccount token (the RBAC a real driver has). The scheduler does
run: with no node to place them on, it marks fresh driver pods Unschedulable, as a full cluster would.
"""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from k2_operator import naming as n
from k2_operator.kube_io import KubeApi
from k2_operator.reconciler import Reconciler
from kubernetes.client.exceptions import ApiException

from spark_jobs.contracts import JOB_NAMES
from spark_jobs.jobs.pod_progress import PodProgressReporter
from tests.fixtures.operator_fixtures import (
    WAIT_SECONDS,
    OperatorKit,
    OperatorProcess,
    service_account_kubeconfig,
    wait_for,
    wait_until,
)
from tests.operator.test_operator_lifecycle import (
    conditions,
    five_drivers,
    job_status,
    replacement,
    running_pipeline,
    wait_phase,
)

pytestmark = pytest.mark.operator


def job_entry(
    op: OperatorKit, ns: str, name: str, job: str, phase: str, timeout: float = WAIT_SECONDS
) -> dict[str, Any]:
    return wait_until(
        f"{job} {phase}", lambda: job_status(op, ns, name, job), lambda e: e.get("phase") == phase, timeout
    )


def warnings(op: OperatorKit, ns: str, name: str) -> set[str]:
    return {reason for kind, reason, _ in op.events(ns, name) if kind == "Warning"}


def rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- 1. health that means something ------------------------------------------------------------------


def test_a_job_is_running_only_with_its_driver_ready_and_its_executors_up(
    k2_operator: OperatorProcess, op: OperatorKit
) -> None:
    ns, name = op.namespace(), "health"
    op.apply_pipeline(ns, name, {"resources": {"totalCores": 16}})  # silver-binance: 3 executors
    pods = five_drivers(op, ns, name)
    job = "silver-binance"
    # No node exists: the scheduler says so, and the job says it at once (not after the start timeout).
    entry = wait_until(
        "Unschedulable in the status",
        lambda: job_status(op, ns, name, job),
        lambda e: e.get("reason") == "Unschedulable",
    )
    assert entry["phase"] == "Starting"
    wait_for("an Unschedulable Warning", lambda: "Unschedulable" in warnings(op, ns, name))

    driver = pods[job]
    assert driver.spec.containers[0].readiness_probe.http_get.port == n.METRICS_PORT_NAME
    op.set_pod_phase(ns, driver.metadata.name, "Running", ready=False)
    assert job_entry(op, ns, name, job, "Starting")["reason"] in ("DriverNotReady", "Unschedulable")
    wait_until(
        "DriverNotReady", lambda: job_status(op, ns, name, job), lambda e: e["reason"] == "DriverNotReady"
    )

    op.set_pod_phase(ns, driver.metadata.name, "Running")  # Ready now, no executor yet
    planned = op.status(ns, name)["plan"]["jobs"][job]["executorInstances"]
    entry = wait_until(
        "ExecutorsStarting",
        lambda: job_status(op, ns, name, job),
        lambda e: e.get("reason") == "ExecutorsStarting",
    )
    # A fresh driver's executors get the start timeout to come up: Starting, not yet partial capacity.
    assert (entry["phase"], entry["executors"]) == ("Starting", f"0/{planned}")
    assert planned >= 2
    op.start_executors(ns, driver, count=1)
    wait_until(
        "1 executor counted",
        lambda: job_status(op, ns, name, job),
        lambda e: e["executors"] == f"1/{planned}",
    )
    op.start_executors(ns, driver)
    entry = job_entry(op, ns, name, job, "Running")
    assert entry["executors"] == f"{planned}/{planned}"

    op.set_all_running(ns, name)
    status = wait_phase(op, ns, name, "Running")
    assert conditions(status)["Ready"]["status"] == "True"
    # An executor lost: partial capacity, a Warning, the pipeline Degraded and not Ready.
    executor = f"{n.executor_pod_name_prefix(name, job)}-{driver.metadata.uid[:5]}-exec-1"
    op.set_pod_phase(ns, executor, "Running", ready=False)
    status = wait_phase(op, ns, name, "Degraded")
    assert status["jobs"][job]["phase"] == "RunningWithPartialCapacity"
    assert (conditions(status)["Ready"]["status"], conditions(status)["Degraded"]["reason"]) == (
        "False",
        "ExecutorsNotReady",
    )
    wait_for("an ExecutorsNotReady Warning", lambda: "ExecutorsNotReady" in warnings(op, ns, name))


def test_container_waiting_reasons_show_in_status_and_events_at_once(
    k2_operator: OperatorProcess, op: OperatorKit
) -> None:
    ns, name = op.namespace(), "waiting"
    op.apply_pipeline(ns, name)
    pods = five_drivers(op, ns, name)
    for job, reason in (("gold", "ImagePullBackOff"), ("silver-kraken", "CreateContainerConfigError")):
        pod = pods[job]
        container = pod.spec.containers[0]
        status = {
            "phase": "Pending",
            "containerStatuses": [
                {
                    "name": container.name,
                    "image": container.image,
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"waiting": {"reason": reason, "message": f"{reason} for {job}"}},
                }
            ],
        }
        op.core.patch_namespaced_pod_status(pod.metadata.name, ns, {"status": status})
    started = time.monotonic()
    for job, reason in (("gold", "ImagePullBackOff"), ("silver-kraken", "CreateContainerConfigError")):
        entry = wait_until(
            f"{job} {reason}",
            lambda j=job: job_status(op, ns, name, j),
            lambda e, r=reason: e.get("reason") == r,
        )
        assert entry["phase"] == "Starting"
        assert f"{reason} for {job}" in entry["message"]
        wait_for(f"a {reason} Warning", lambda r=reason: r in warnings(op, ns, name))
    # Far sooner than the 300 s start timeout.
    assert time.monotonic() - started < 30


def test_the_driver_reports_progress_on_its_own_pod_with_its_own_token(
    k2_operator: OperatorProcess, op: OperatorKit, tmp_path: Path
) -> None:
    """The driver side (spark_jobs.jobs.pod_progress) writes the annotation as the pipeline's driver
    ServiceAccount: allowed on its own pod, refused elsewhere; the operator turns it into
    lastProgressTime, and a driver silent past progressTimeoutSeconds into Stalled (not restarted)."""
    ns, uids = running_pipeline(op, "progress", {"progressTimeoutSeconds": 120})
    kubeconfig = yaml.safe_load(
        service_account_kubeconfig(
            op.cluster, tmp_path / "driver.kubeconfig", "progress-spark-driver", ns
        ).read_text()
    )
    token = tmp_path / "token"
    token.write_text(kubeconfig["users"][0]["user"]["token"])
    ca = tmp_path / "ca.crt"
    ca.write_bytes(base64.b64decode(kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"]))

    def reporter(pod: str) -> PodProgressReporter:
        return PodProgressReporter(
            api_url=op.cluster.api_url,
            namespace=ns,
            pod=pod,
            annotation=n.ANNOTATION_LAST_PROGRESS,
            interval_seconds=0,
            token_path=token,
            ca_path=ca,
        )

    # Silent for 10 minutes: Stalled, a Warning, nothing restarted.
    gold = reporter("progress-gold-driver")
    gold.write(time.time() - 600)
    entry = job_entry(op, ns, "progress", "gold", "Stalled")
    assert entry["reason"] == "NoProgress"
    wait_for("a NoProgress Warning", lambda: "NoProgress" in warnings(op, ns, "progress"))
    assert wait_phase(op, ns, "progress", "Degraded")["jobs"]["gold"]["phase"] == "Stalled"
    # Progress again: Running, with the time in the status.
    assert gold.observe({"id": "q", "runId": "r", "batchId": 7, "timestamp": "t"})
    entry = job_entry(op, ns, "progress", "gold", "Running")
    assert entry["lastProgressTime"]
    assert abs(datetime.fromisoformat(entry["lastProgressTime"]).timestamp() - time.time()) < 60
    assert op.driver_pods(ns, "progress")["gold"].metadata.uid == uids["gold"]

    # A thousand drivers reporting every 30 s must not mean a thousand reconciliations: a pod event that
    # only moves the progress annotation is dropped (the periodic full resync reads the progress).
    before = k2_operator.metric("k2_operator_reconciliations_total", trigger="pod")
    for i in range(10):
        gold.write(time.time() - 10 + i)
        time.sleep(0.3)
    time.sleep(2)
    assert k2_operator.metric("k2_operator_reconciliations_total", trigger="pod") - before < 5

    # The token can patch this pipeline's driver pods only.
    other_ns, _ = running_pipeline(op, "other")
    other = PodProgressReporter(
        api_url=op.cluster.api_url,
        namespace=ns,
        pod="progress-gold-driver-not-a-driver",
        annotation=n.ANNOTATION_LAST_PROGRESS,
        interval_seconds=0,
        token_path=token,
        ca_path=ca,
    )
    with pytest.raises(OSError, match="403"):
        other.write(time.time())
    other.namespace, other.pod = other_ns, "other-gold-driver"
    with pytest.raises(OSError, match="403"):
        other.write(time.time())


# --- 2. lost nodes and odd pod states ----------------------------------------------------------------


@pytest.fixture
def lost_node(op: OperatorKit) -> Any:
    """A Node object whose kubelet never reports: NotReady. Tainted and cordoned so the scheduler
    places nothing on it; the test binds a driver to it by hand."""
    name = f"k2-lost-{time.monotonic_ns() % 100000}"
    op.core.create_node(
        {
            "metadata": {"name": name},
            "spec": {
                "unschedulable": True,
                "taints": [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}],
            },
        }
    )
    now = rfc3339(time.time())
    op.core.patch_node_status(
        name,
        {
            "status": {
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "Unknown",
                        "reason": "NodeStatusUnknown",
                        "message": "Kubelet stopped posting node status.",
                        "lastHeartbeatTime": now,
                        "lastTransitionTime": now,
                    }
                ]
            }
        },
    )
    yield name
    try:
        op.core.delete_node(name)
    except ApiException as error:
        if error.status != 404:
            raise


def test_a_driver_on_a_lost_node_is_reported_then_replaced_only_once_the_node_is_gone(
    k2_operator: OperatorProcess, op: OperatorKit, lost_node: str
) -> None:
    ns, name = op.namespace(), "lost"
    op.apply_pipeline(ns, name, {"driverLostGraceSeconds": 3})
    pods = five_drivers(op, ns, name)
    gold = pods["gold"]
    op.core.create_namespaced_pod_binding(
        gold.metadata.name,
        ns,
        {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": gold.metadata.name},
            "target": {"apiVersion": "v1", "kind": "Node", "name": lost_node},
        },
        _preload_content=False,
    )
    op.set_all_running(ns, name)
    # What the node lifecycle controller does to pods of a node that stopped reporting: not Ready.
    op.set_pod_phase(ns, gold.metadata.name, "Running", ready=False)
    entry = job_entry(op, ns, name, "gold", "Lost")
    assert (entry["reason"], entry["node"]) == ("NodeLost", lost_node)
    status = op.status(ns, name)
    assert conditions(status)["Ready"]["status"] == "False"
    assert status["phase"] == "Degraded"
    wait_for("a NodeLost Warning", lambda: "NodeLost" in warnings(op, ns, name))

    # After the grace: deleted, but the pod stays Terminating (no kubelet confirms) and is never
    # force-deleted while its Node object exists: the node might still run it.
    wait_until(
        "AwaitingNodeRemoval",
        lambda: job_status(op, ns, name, "gold"),
        lambda e: e["reason"] == "AwaitingNodeRemoval",
    )
    time.sleep(3)
    still = op.driver_pods(ns, name)["gold"]
    assert still.metadata.uid == gold.metadata.uid and still.metadata.deletion_timestamp is not None

    op.core.delete_node(lost_node)
    new = replacement(op, ns, name, "gold", gold.metadata.uid)
    assert new.spec.node_name is None
    wait_for("a ForceDeleted Warning", lambda: "ForceDeleted" in warnings(op, ns, name))
    entry = wait_until(
        "DriverReplaced",
        lambda: job_status(op, ns, name, "gold"),
        lambda e: e["reason"] in ("DriverReplaced", "Unschedulable"),
    )
    assert entry["restarts"] == 0  # a lost node is not the job's failure
    # Events are posted once the status is written: wait for it rather than read it at once.
    wait_for("a DriverReplaced event", lambda: "DriverReplaced" in op.event_reasons(ns, name))


def test_a_driver_in_phase_unknown_is_lost_not_running(k2_operator: OperatorProcess, op: OperatorKit) -> None:
    ns, _ = running_pipeline(op, "unknown", {"driverLostGraceSeconds": 600})
    op.set_pod_phase(ns, "unknown-silver-binance-driver", "Unknown")
    entry = job_entry(op, ns, "unknown", "silver-binance", "Lost")
    assert entry["reason"] == "PodUnknown"
    assert entry["restarts"] == 0
    assert wait_phase(op, ns, "unknown", "Degraded")["ready"] == "4/5"


# --- 3. lifecycle ------------------------------------------------------------------------------------


def test_a_clean_exit_restarts_under_the_default_policy(
    k2_operator: OperatorProcess, op: OperatorKit
) -> None:
    ns, uids = running_pipeline(op, "exit", {"restartPolicy": {"backoffInitialSeconds": 3}})
    assert op.pipeline(ns, "exit")["spec"]["restartPolicy"]["type"] == "Always"
    op.set_pod_phase(ns, "exit-gold-driver", "Succeeded", terminated={"exitCode": 0, "reason": "Completed"})
    entry = job_entry(op, ns, "exit", "gold", "BackOff")
    assert entry["reason"] == "DriverExited"
    replacement(op, ns, "exit", "gold", uids["gold"])


def test_a_pipeline_whose_jobs_all_succeeded_under_on_failure_is_succeeded(
    k2_operator: OperatorProcess, op: OperatorKit
) -> None:
    ns, _ = running_pipeline(op, "done", {"restartPolicy": {"type": "OnFailure"}})
    for job in JOB_NAMES:
        op.set_pod_phase(
            ns, f"done-{job}-driver", "Succeeded", terminated={"exitCode": 0, "reason": "Completed"}
        )
    status = wait_phase(op, ns, "done", "Succeeded")
    assert {e["phase"] for e in status["jobs"].values()} == {"Succeeded"}


def test_restart_nonces_restart_one_job_or_all_and_clear_failed(
    k2_operator: OperatorProcess, op: OperatorKit
) -> None:
    ns, uids = running_pipeline(op, "nonce", {"restartPolicy": {"type": "Never"}})
    op.set_pod_phase(ns, "nonce-gold-driver", "Failed", reason="Error")
    assert job_entry(op, ns, "nonce", "gold", "Failed")["reason"] == "DriverFailed"

    op.patch_spec(ns, "nonce", {"jobs": {"gold": {"restartNonce": 1}}})
    new_gold = replacement(op, ns, "nonce", "gold", uids["gold"])
    entry = job_entry(op, ns, "nonce", "gold", "Starting")
    assert (entry["reason"], entry["restarts"], entry["restartNonce"]) in (
        ("RestartRequested", 0, "0.1"),
        ("Unschedulable", 0, "0.1"),
    )
    others = {job: pod.metadata.uid for job, pod in op.driver_pods(ns, "nonce").items() if job != "gold"}
    assert others == {job: uid for job, uid in uids.items() if job != "gold"}
    op.run_driver(ns, "nonce", "gold")
    wait_phase(op, ns, "nonce", "Running")

    op.patch_spec(ns, "nonce", {"restartNonce": 1})
    current = {**uids, "gold": new_gold.metadata.uid}
    for job in JOB_NAMES:
        replacement(op, ns, "nonce", job, current[job])
    wait_for(
        "RestartRequested for every job",
        lambda: op.event_reasons(ns, "nonce").count("RestartRequested") >= 2 * 5 + 2,
    )
    assert {e["restartNonce"] for e in op.status(ns, "nonce")["jobs"].values()} == {"1.0", "1.1"}


def test_suspend_and_resume_reset_the_restart_budget(k2_operator: OperatorProcess, op: OperatorKit) -> None:
    ns, uids = running_pipeline(op, "budget", {"restartPolicy": {"backoffInitialSeconds": 1}})
    op.set_pod_phase(ns, "budget-gold-driver", "Failed", reason="Error")
    replacement(op, ns, "budget", "gold", uids["gold"])
    assert job_status(op, ns, "budget", "gold")["restarts"] == 1
    op.patch_spec(ns, "budget", {"suspend": True})
    wait_phase(op, ns, "budget", "Suspended")
    op.patch_spec(ns, "budget", {"suspend": False})
    entry = wait_until(
        "gold resumed", lambda: job_status(op, ns, "budget", "gold"), lambda e: e.get("phase") == "Starting"
    )
    assert entry["restarts"] == 0


def test_an_invalid_spec_sets_ready_false_and_leaves_running_drivers_alone(
    k2_operator: OperatorProcess, op: OperatorKit
) -> None:
    """The API server refuses invalid specs now, so a spec it admitted under an older, looser CRD is
    simulated in memory: the real reconciler gets the stored pipeline with an out-of-range totalCores
    (while the operator process is paused, so only this reconciliation writes the status)."""
    ns, uids = running_pipeline(op, "invalid")
    k2_operator.stop()
    try:
        body = op.pipeline(ns, "invalid")
        assert body is not None
        body["spec"]["resources"]["totalCores"] = 40
        outcome = Reconciler(KubeApi(op.cluster.api_client)).reconcile(body)
        assert [e.reason for e in outcome.events] == ["InvalidSpec"]
        status = op.status(ns, "invalid")
        ready = conditions(status)["Ready"]
        assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
        assert "totalCores" in ready["message"]
        assert ready["observedGeneration"] == body["metadata"]["generation"]
        assert status["phase"] == "Degraded"
        assert {job: pod.metadata.uid for job, pod in op.driver_pods(ns, "invalid").items()} == uids
        assert {e["phase"] for e in status["jobs"].values()} == {"Running"}  # untouched
    finally:
        k2_operator.start()
    wait_until(
        "Ready again", lambda: op.status(ns, "invalid"), lambda s: conditions(s)["Ready"]["status"] == "True"
    )


# --- 4. upgrades without a stampede ------------------------------------------------------------------


def test_a_shared_change_restarts_bronze_then_silver_then_gold(
    k2_operator: OperatorProcess, op: OperatorKit
) -> None:
    ns, uids = running_pipeline(op, "rollout")
    op.patch_spec(ns, "rollout", {"image": "k2/streaming:next"})
    layers = {
        "bronze": ["bronze-binance", "bronze-kraken"],
        "silver": ["silver-binance", "silver-kraken"],
        "gold": ["gold"],
    }
    downstream = {"bronze": ["silver", "gold"], "silver": ["gold"], "gold": []}
    for layer in ("bronze", "silver", "gold"):
        for job in layers[layer]:
            replacement(op, ns, "rollout", job, uids[job])
        # Downstream drivers keep running the old spec, queued, while this layer starts.
        pods = op.driver_pods(ns, "rollout")
        for later in downstream[layer]:
            for job in layers[later]:
                assert pods[job].metadata.uid == uids[job], f"{job} restarted before {layer} ran"
                assert pods[job].spec.containers[0].image != "k2/streaming:next"
                wait_until(
                    f"{job} queued",
                    lambda j=job: job_status(op, ns, "rollout", j),
                    lambda e: e.get("reason") == "UpdateQueued",
                )
        time.sleep(2)  # more than a resync: nothing downstream moves until this layer runs
        assert all(
            op.driver_pods(ns, "rollout")[j].metadata.uid == uids[j]
            for d in downstream[layer]
            for j in layers[d]
        )
        for job in layers[layer]:
            op.run_driver(ns, "rollout", job)
    status = wait_phase(op, ns, "rollout", "Running")
    assert {e["restarts"] for e in status["jobs"].values()} == {0}
    assert "UpdateQueued" in op.event_reasons(ns, "rollout")


def test_an_operator_that_renders_differently_rewrites_children_but_restarts_no_driver(
    k2_operator: OperatorProcess, op: OperatorKit
) -> None:
    """What an operator upgrade that only changes rendering looks like from the cluster: children whose
    render hash differs from what this operator renders (here: set by hand, as an older operator's
    would be), under the same spec hash. The drivers keep running; the ConfigMaps and Services are
    rewritten to this operator's rendering."""
    ns, uids = running_pipeline(op, "upgrade")
    k2_operator.stop()
    try:
        stale = {"metadata": {"annotations": {n.ANNOTATION_RENDER_HASH: "0ld0ld0ld0ld0ld0"}}}
        for job in JOB_NAMES:
            op.core.patch_namespaced_config_map(n.config_map_name("upgrade", job), ns, stale)
            op.core.patch_namespaced_service(n.driver_service_name("upgrade", job), ns, stale)
            op.core.patch_namespaced_pod(n.driver_pod_name("upgrade", job), ns, stale)
    finally:
        k2_operator.start()

    def rewritten() -> bool:
        maps = [op.core.read_namespaced_config_map(n.config_map_name("upgrade", j), ns) for j in JOB_NAMES]
        return all(m.metadata.annotations[n.ANNOTATION_RENDER_HASH] != "0ld0ld0ld0ld0ld0" for m in maps)

    wait_for("the ConfigMaps rewritten", rewritten)
    time.sleep(2)
    assert {job: pod.metadata.uid for job, pod in op.driver_pods(ns, "upgrade").items()} == uids
    assert op.status(ns, "upgrade")["phase"] == "Running"
