"""The real operator process (as its own ServiceAccount) against the real API server: a pipeline's whole
lifecycle. No kubelet runs here, so the tests play the kubelet's part by patching pod status."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
import yaml
from k2_operator import naming as n
from k2_operator.planner import plan_pipeline

from spark_jobs.contracts import JOB_NAMES
from tests.fixtures.operator_fixtures import (
    WAIT_SECONDS,
    OperatorKit,
    OperatorProcess,
    wait_for,
    wait_until,
)

pytestmark = pytest.mark.operator

FAST_RESTARTS = {
    "restartPolicy": {
        "type": "OnFailure",
        "maxRetries": 2,
        "backoffInitialSeconds": 2,
        "backoffMaxSeconds": 4,
    }
}


def five_drivers(op: OperatorKit, ns: str, name: str) -> dict[str, Any]:
    return wait_until("five driver pods", lambda: op.driver_pods(ns, name), lambda pods: len(pods) == 5)


def replacement(op: OperatorKit, ns: str, name: str, job: str, old_uid: str) -> Any:
    """Wait for ``job``'s driver pod to be a different pod than ``old_uid``."""
    return wait_until(
        f"{job}'s driver replaced",
        lambda: op.driver_pods(ns, name).get(job),
        lambda pod: pod is not None and pod.metadata.uid != old_uid,
    )


def job_status(op: OperatorKit, ns: str, name: str, job: str) -> dict[str, Any]:
    return dict((op.status(ns, name).get("jobs") or {}).get(job) or {})


def wait_phase(
    op: OperatorKit, ns: str, name: str, phase: str, timeout: float = WAIT_SECONDS
) -> dict[str, Any]:
    return wait_until(
        f"pipeline phase {phase}", lambda: op.status(ns, name), lambda s: s.get("phase") == phase, timeout
    )


def running_pipeline(
    op: OperatorKit, name: str, overrides: dict[str, Any] | None = None
) -> tuple[str, dict[str, Any]]:
    ns = op.namespace()
    op.apply_pipeline(ns, name, overrides)
    five_drivers(op, ns, name)
    pods = op.set_all_running(ns, name)
    wait_phase(op, ns, name, "Running")
    return ns, {job: pod.metadata.uid for job, pod in pods.items()}


def conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status.get("conditions", [])}


def test_a_pipeline_becomes_five_planned_drivers_with_services_config_maps_status_and_events(
    k2_operator: OperatorProcess, op: OperatorKit
) -> None:
    ns, name = op.namespace(), "trades"
    cr = op.apply_pipeline(ns, name)
    pods = five_drivers(op, ns, name)
    plan = plan_pipeline(14, 2048)
    assert set(pods) == set(JOB_NAMES)
    for job, pod in pods.items():
        assert pod.metadata.name == f"{name}-{job}-driver"
        labels = pod.metadata.labels
        assert labels[n.LABEL_PIPELINE] == name and labels[n.LABEL_JOB] == job
        assert labels[n.LABEL_INSTANCE] == name and labels[n.LABEL_MANAGED_BY] == "k2-operator"
        (owner,) = pod.metadata.owner_references
        assert (owner.kind, owner.name, owner.uid, owner.controller) == (
            "StreamingPipeline",
            name,
            cr["metadata"]["uid"],
            True,
        )
        container = pod.spec.containers[0]
        assert container.resources.limits == {"cpu": "1", "memory": "2Gi"}
        assert container.resources.requests == {"cpu": "1", "memory": "2Gi"}
        command = container.command
        assert command[:5] == [
            "spark-submit",
            "--master",
            "k8s://https://kubernetes.default.svc",
            "--deploy-mode",
            "client",
        ]
        assert f"spark.executor.instances={plan[job].executor_instances}" in command
        assert f"spark.executor.cores={plan[job].executor.cores}" in command
        assert f"spark.kubernetes.namespace={ns}" in command
        assert pod.spec.security_context.run_as_non_root is True
        assert pod.spec.security_context.seccomp_profile.type == "RuntimeDefault"
        assert container.security_context.allow_privilege_escalation is False
        assert container.security_context.capabilities.drop == ["ALL"]
        assert pod.spec.service_account_name == f"{name}-spark-driver"
    children = op.children(ns, name)
    assert sorted(children["services"]) == sorted(f"{name}-{job}-driver" for job in JOB_NAMES)
    assert sorted(children["configmaps"]) == sorted(f"{name}-{job}-config" for job in JOB_NAMES)
    template = yaml.safe_load(
        op.core.read_namespaced_config_map(f"{name}-gold-config", ns).data["executor-pod-template.yaml"]
    )
    assert template["metadata"]["labels"][n.LABEL_JOB] == "gold"

    starting = wait_phase(op, ns, name, "Starting")
    assert starting["ready"] == "0/5"
    assert conditions(starting)["Progressing"]["status"] == "True"
    assert (
        starting["plan"]["jobs"]["silver-binance"]["executorInstances"]
        == plan["silver-binance"].executor_instances
    )

    op.set_all_running(ns, name)
    running = wait_phase(op, ns, name, "Running")
    assert running["ready"] == "5/5"
    assert running["observedGeneration"] == cr["metadata"]["generation"]
    conds = conditions(running)
    assert (conds["Ready"]["status"], conds["Progressing"]["status"], conds["Degraded"]["status"]) == (
        "True",
        "False",
        "False",
    )
    assert {c["observedGeneration"] for c in conds.values()} == {cr["metadata"]["generation"]}
    assert {job: entry["phase"] for job, entry in running["jobs"].items()} == dict.fromkeys(
        JOB_NAMES, "Running"
    )
    assert running["jobs"]["gold"]["cores"] == plan["gold"].total_cores

    wait_for("Events of every transition", lambda: op.event_reasons(ns, name).count("DriverRunning") == 5)
    reasons = op.event_reasons(ns, name)
    assert reasons.count("DriverCreated") == 5
    assert "PipelineRunning" in reasons
    sa = op.core.read_namespaced_service_account(f"{name}-spark-driver", ns)
    assert sa.metadata.owner_references[0].uid == cr["metadata"]["uid"]
    assert k2_operator.metric("k2_operator_pipelines", phase="Running") >= 1
    assert k2_operator.metric("k2_operator_reconciliations_total", trigger="create") >= 1
    assert "k2_operator_reconcile_duration_seconds_bucket" in k2_operator.metrics()


def test_a_failed_driver_is_restarted_with_backoff_and_counted_then_gives_up_past_max_retries(
    k2_operator: OperatorProcess, op: OperatorKit
) -> None:
    ns, uids = running_pipeline(op, "flaky", FAST_RESTARTS)
    job, pod = "bronze-binance", "flaky-bronze-binance-driver"
    previous_uid = uids[job]
    # The first failure as a driver that wrote its reason to the termination message, the second
    # as a pod that only says Error: both are counted by reason, after the driver is gone.
    termination = {"exitCode": 1, "reason": "Error", "message": "checkpoint_write_failed\nIOException"}
    for attempt, backoff, terminated in ((1, 2.0, termination), (2, 4.0, None)):
        failed_at = time.monotonic()
        op.set_pod_phase(ns, pod, "Failed", reason="Error", message="executor lost", terminated=terminated)
        entry = wait_until(
            "BackOff", lambda: job_status(op, ns, "flaky", job), lambda e: e.get("phase") == "BackOff"
        )
        assert entry["restarts"] == attempt
        assert entry["reason"] == "DriverFailed"
        assert entry["nextRestartTime"]
        new = replacement(op, ns, "flaky", job, previous_uid)
        waited = time.monotonic() - failed_at
        assert waited >= backoff - 1.0, f"restart {attempt} came after {waited:.1f} s, backoff is {backoff} s"
        previous_uid = new.metadata.uid
        op.run_driver(ns, "flaky", job)
        wait_for("Running again", lambda: job_status(op, ns, "flaky", job).get("phase") == "Running")
    labels = {"pipeline_namespace": ns, "pipeline": "flaky", "k2_job": job}
    assert k2_operator.metric("k2_operator_job_restarts_total", **labels) == 2
    failures = "k2_operator_job_failures_total"
    assert k2_operator.metric(failures, **labels, reason="checkpoint_write_failed") == 1
    assert k2_operator.metric(failures, **labels, reason="error") == 1
    # Every job and reason starts at zero (a series, not an absent one).
    zero_labels = (f'pipeline_namespace="{ns}"', 'pipeline="flaky"', 'k2_job="gold"', 'reason="oom_killed"')
    assert any(
        line.startswith(failures + "{")
        and line.endswith(" 0.0")
        and all(pair in line for pair in zero_labels)
        for line in k2_operator.metrics().splitlines()
    )
    assert op.driver_pods(ns, "flaky")["silver-binance"].metadata.uid == uids["silver-binance"]

    op.set_pod_phase(ns, pod, "Failed", reason="Error")
    status = wait_phase(op, ns, "flaky", "Degraded")
    entry = status["jobs"][job]
    assert (entry["phase"], entry["reason"]) == ("Failed", "RetriesExhausted")
    assert conditions(status)["Degraded"]["status"] == "True"
    assert "bronze-binance" in conditions(status)["Degraded"]["message"]
    time.sleep(3)  # longer than the backoff: a give-up must not restart
    assert op.driver_pods(ns, "flaky")[job].metadata.uid == previous_uid
    wait_for(
        "a RetriesExhausted Warning",
        lambda: ("Warning", "RetriesExhausted") in {(t, r) for t, r, _ in op.events(ns, "flaky")},
    )


def test_a_deleted_driver_is_recreated(k2_operator: OperatorProcess, op: OperatorKit) -> None:
    ns, uids = running_pipeline(op, "gone", {"restartPolicy": {"backoffInitialSeconds": 1}})
    op.core.delete_namespaced_pod("gone-gold-driver", ns)
    new = replacement(op, ns, "gone", "gold", uids["gold"])
    assert new.metadata.name == "gone-gold-driver"
    assert job_status(op, ns, "gone", "gold")["restarts"] == 1
    wait_for("a DriverDeleted event", lambda: "DriverDeleted" in op.event_reasons(ns, "gone"))
    others = {job: pod.metadata.uid for job, pod in op.driver_pods(ns, "gone").items() if job != "gold"}
    assert others == {job: uid for job, uid in uids.items() if job != "gold"}


def test_a_spec_change_replaces_only_the_driver_of_the_job_it_affects(
    k2_operator: OperatorProcess, op: OperatorKit
) -> None:
    ns, uids = running_pipeline(op, "tuned")
    before = op.driver_pods(ns, "tuned")["gold"].metadata.annotations[n.ANNOTATION_SPEC_HASH]
    op.patch_spec(ns, "tuned", {"triggers": {"gold": "30 seconds"}})
    new = replacement(op, ns, "tuned", "gold", uids["gold"])
    assert new.metadata.annotations[n.ANNOTATION_SPEC_HASH] != before
    config = yaml.safe_load(op.core.read_namespaced_config_map("tuned-gold-config", ns).data["job.yaml"])
    assert config["trigger_interval"] == "30 seconds"
    op.run_driver(ns, "tuned", "gold")
    status = wait_until(
        "Running at the new generation",
        lambda: op.status(ns, "tuned"),
        lambda s: s.get("phase") == "Running" and s.get("observedGeneration") == 2,
    )
    assert status["jobs"]["gold"]["restarts"] == 0
    unchanged = {job: pod.metadata.uid for job, pod in op.driver_pods(ns, "tuned").items() if job != "gold"}
    assert unchanged == {job: uid for job, uid in uids.items() if job != "gold"}
    wait_for("the update's events", lambda: "DriverUpdated" in op.event_reasons(ns, "tuned"))
    reasons = op.event_reasons(ns, "tuned")
    assert reasons.count("SpecChanged") == 1 and reasons.count("DriverUpdated") == 1


def test_suspend_removes_the_drivers_and_resume_brings_them_back(
    k2_operator: OperatorProcess, op: OperatorKit
) -> None:
    ns, uids = running_pipeline(op, "nap")
    op.patch_spec(ns, "nap", {"suspend": True})
    status = wait_phase(op, ns, "nap", "Suspended")
    wait_for("no driver pods", lambda: not op.driver_pods(ns, "nap"))
    assert status["ready"] == "0/5"
    assert conditions(status)["Ready"]["reason"] == "Suspended"
    assert len(op.children(ns, "nap")["configmaps"]) == 5  # the job configs (and checkpoints) stay

    op.patch_spec(ns, "nap", {"suspend": False})
    pods = five_drivers(op, ns, "nap")
    assert not {pod.metadata.uid for pod in pods.values()} & set(uids.values())
    wait_phase(op, ns, "nap", "Starting")
    wait_for("five Resumed events", lambda: op.event_reasons(ns, "nap").count("Resumed") == 5)
    assert all(entry["restarts"] == 0 for entry in op.status(ns, "nap")["jobs"].values())


@pytest.mark.slow
def test_a_driver_pending_past_its_start_timeout_is_reported_and_restarted(
    k2_operator: OperatorProcess, op: OperatorKit
) -> None:
    ns, name = op.namespace(), "stuck"
    op.apply_pipeline(
        ns, name, {"driverStartTimeoutSeconds": 30, "restartPolicy": {"backoffInitialSeconds": 1}}
    )
    pods = five_drivers(op, ns, name)
    for job in pods:
        if job != "silver-kraken":
            op.run_driver(ns, name, job)
    status = wait_until(
        "StartTimeout on silver-kraken",
        lambda: op.status(ns, name),
        lambda s: (s.get("jobs") or {}).get("silver-kraken", {}).get("reason") == "StartTimeout",
        timeout=60,
    )
    degraded = conditions(status)["Degraded"]
    assert (degraded["status"], degraded["reason"]) == ("True", "StartTimeout")
    wait_for(
        "a StartTimeout Warning",
        lambda: ("Warning", "StartTimeout") in {(t, r) for t, r, _ in op.events(ns, name)},
    )
    replacement(op, ns, name, "silver-kraken", pods["silver-kraken"].metadata.uid)
    assert job_status(op, ns, name, "silver-kraken")["restarts"] == 1


def test_deleting_a_pipeline_garbage_collects_its_children(
    k2_operator: OperatorProcess, op: OperatorKit
) -> None:
    ns, _ = running_pipeline(op, "bye")
    op.delete_pipeline(ns, "bye")
    wait_for("the pipeline gone (finalizer released)", lambda: op.pipeline(ns, "bye") is None)
    wait_for(
        "children garbage-collected",
        lambda: op.children(ns, "bye") == {"pods": [], "deployments": [], "services": [], "configmaps": []},
        timeout=60,
    )
    wait_for(
        "driver RBAC garbage-collected",
        lambda: (
            not [
                r
                for r in op.core.list_namespaced_service_account(ns).items
                if r.metadata.name == "bye-spark-driver"
            ]
        ),
        timeout=60,
    )


def test_operator_killed_mid_reconcile_and_restarted_creates_no_duplicates(
    k2_operator: OperatorProcess, op: OperatorKit
) -> None:
    ns, name = op.namespace(), "crash"
    op.apply_pipeline(ns, name)
    wait_for("a first driver pod", lambda: op.driver_pods(ns, name), interval=0.02)
    k2_operator.kill()
    before = {job: pod.metadata.uid for job, pod in op.driver_pods(ns, name).items()}
    k2_operator.start()
    pods = five_drivers(op, ns, name)
    assert {job: pods[job].metadata.uid for job in before} == before  # adopted, not replaced
    children = op.children(ns, name)
    assert (len(children["pods"]), len(children["services"]), len(children["configmaps"])) == (5, 5, 5)
    op.set_all_running(ns, name)
    wait_phase(op, ns, name, "Running")

    k2_operator.stop()  # a clean restart adopts a running pipeline as it is
    k2_operator.start()
    time.sleep(3)
    after = {job: pod.metadata.uid for job, pod in op.driver_pods(ns, name).items()}
    assert after == {job: pod.metadata.uid for job, pod in pods.items()}
    assert op.status(ns, name)["phase"] == "Running"
    assert all(entry["restarts"] == 0 for entry in op.status(ns, name)["jobs"].values())


def test_the_operator_runs_with_least_privilege_and_was_never_forbidden(
    k2_operator: OperatorProcess, op: OperatorKit
) -> None:
    subject = "system:serviceaccount:k2-system:k2-operator"

    def can(*args: str) -> bool:
        result = op.cluster.kubectl("auth", "can-i", f"--as={subject}", *args, check=False)
        return result.stdout.strip() == "yes"

    assert can("create", "pods", "-n", "default")
    assert can("patch", "streamingpipelines.k2.dev/status", "-n", "default")
    assert not can("get", "secrets", "-n", "default")
    assert can("create", "deployments.apps", "-n", "default")  # the feeds
    assert not can("create", "daemonsets.apps", "-n", "default")
    assert not can("delete", "namespaces")
    assert not can("escalate", "roles.rbac.authorization.k8s.io", "-n", "default")
    log = k2_operator.log_text()
    assert '"levelname"' in log or '"level"' in log or '"message"' in log  # JSON lines
    # An RBAC denial reads `User "system:serviceaccount:k2-system:k2-operator" cannot <verb> resource ...`.
    denials = re.findall(r"k2-operator\\*\" cannot [a-z]+ resource [^ ]+", log)
    assert denials == [], denials
