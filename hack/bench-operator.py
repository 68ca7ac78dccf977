"""Benchmark of the K2 operator against a real API server built from source (not a test).

Measures, in one run:
  1. CR created -> its five driver Pods created: p50 / p99 over N CRs (created one after another);
  2. M pipelines reconciled: the operator's RSS and CPU (during creation, and idle with the resync timer);
  3. Kubernetes' own yardstick on the same API server: a ReplicaSet of five replicas -> its fifth pod,
     p50 / p99 over N ReplicaSets (the same N), and the operator's figures over it;
  4. the baseline: the wall time of one `spark-submit` JVM start (`--version`), and of one cluster-mode
     `spark-submit` that creates a driver pod against the same API server and returns, which is what an
     operator that shells out per job pays (as Kubeflow's spark-operator does) -- times five jobs.

With ``--baseline COMMIT`` the operator of an older commit (its source from `git archive`, its RBAC
from its own chart) is measured first on the same API server, then this checkout's; the output has
both and their ratios (current / baseline), and the 1-minute load average at the end of each run
(the machine is shared: compare ratios, not absolute figures, across runs).

Usage: nice -n 10 .venv/bin/python hack/bench-operator.py [--crs 50] [--pipelines 200] [--idle-seconds 60]
           [--baseline 0e014a6]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config, watch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from k2_dev.dev_cluster import DevCluster  # noqa: E402
from k2_operator import naming as n  # noqa: E402

from tests.fixtures.chart_fixtures import new_helm, operator_rbac_objects  # noqa: E402
from tests.fixtures.operator_fixtures import (  # noqa: E402
    OPERATOR_NAMESPACE,
    OperatorKit,
    OperatorProcess,
    service_account_kubeconfig,
    wait_for,
)
from tests.fixtures.pipeline_fixtures import scrape  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def apply_crd(kubectl: list[str], crd: Path) -> None:
    """The StreamingPipeline CRD applied (taking over fields another version set) and Established."""
    subprocess.run(
        [*kubectl, "apply", "--server-side", "--force-conflicts", "-f", str(crd)],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [*kubectl, "wait", "--for=condition=Established", "crd/streamingpipelines.k2.dev"],
        check=True,
        capture_output=True,
    )


def crd_storage_ready(kit: OperatorKit) -> bool:
    """Whether pipelines can be listed. Right after a CRD update the API server answers 429 ("storage
    is (re)initializing", retry after 1 s) for a moment: an operator started then begins its watch a
    second late, and that second used to be the first CR's (the p99 of 50 CRs) -- a bench artifact, as a
    cluster installs the CRD long before the operator starts."""
    try:
        kit.custom.list_cluster_custom_object(n.GROUP, n.VERSION, n.PLURAL, limit=1)
    except client.ApiException as error:
        if error.status == 429:
            return False
        raise
    return True


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class DriverPodClock:
    """Watches driver pods, records when each pipeline's fifth driver pod appeared, marks them Running."""

    def __init__(self, kit: OperatorKit, namespace: str) -> None:
        self.kit, self.core, self.namespace = kit, kit.core, namespace
        self.seen: dict[str, set[str]] = {}
        self.complete_at: dict[str, float] = {}
        self.lock = threading.Lock()
        self._watch = watch.Watch()
        #: drivers to play the kubelet for, off the clock's thread (it must only read the clock)
        self._started: queue.Queue[Any] = queue.Queue()
        threading.Thread(target=self._run, daemon=True).start()
        threading.Thread(target=self._kubelet, daemon=True).start()

    def _run(self) -> None:
        try:
            self._watch_pods()
        except Exception:  # the stream breaks when the control plane stops at the end of the run
            return

    def _watch_pods(self) -> None:
        selector = f"{n.LABEL_COMPONENT}={n.COMPONENT_DRIVER}"
        for event in self._watch.stream(
            self.core.list_namespaced_pod, self.namespace, label_selector=selector
        ):
            if event["type"] != "ADDED":
                continue
            pod = event["object"]
            pipeline = pod.metadata.labels[n.LABEL_PIPELINE]
            with self.lock:
                jobs = self.seen.setdefault(pipeline, set())
                jobs.add(pod.metadata.labels[n.LABEL_JOB])
                if len(jobs) == 5 and pipeline not in self.complete_at:
                    self.complete_at[pipeline] = time.monotonic()
            self._started.put(pod)

    def _kubelet(self) -> None:
        """Play the kubelet and Spark (none runs here), once the clock was read: the driver Running and
        Ready, its executors created and Running and Ready -- the job Running, the steady state the
        idle figures are about. Left Pending, or Running but not Ready (as up to d447686), every driver
        hits its start timeout (300 s) and is restarted; without executors every job changes phase
        at its start timeout: either way the "idle" window of a long run was full of transitions."""
        while True:
            pod = self._started.get()
            try:
                self.kit.set_pod_phase(self.namespace, pod.metadata.name, "Running")
                self.kit.start_executors(self.namespace, pod)
            except Exception:  # the control plane stops at the end of the run
                return

    def all_running(self, pipelines: int) -> bool:
        """Every pipeline's status says Running (the operator has caught up with every driver and
        executor the bench played)."""
        listed = self.kit.custom.list_namespaced_custom_object(n.GROUP, n.VERSION, self.namespace, n.PLURAL)
        running = [p for p in listed["items"] if (p.get("status") or {}).get("phase") == "Running"]
        return len(running) >= pipelines

    def done(self, pipeline: str) -> float | None:
        with self.lock:
            return self.complete_at.get(pipeline)


class BenchNode:
    """One Ready Node with no kubelet behind it, its Lease renewed every 10 s (the node lifecycle
    controller marks a node whose Lease lapses NotReady and evicts its pods). Without any node the
    scheduler retries every unschedulable pod (1,000 drivers, 1,400 executors, 600 feed and quality
    pods) through the idle window and each retry writes pod status the operator is sent; with it every
    pod is bound once, as on a real cluster, and the idle window is idle."""

    NAME = "bench-node"
    HUGE = {"cpu": "100000", "memory": "100000Gi", "pods": "100000", "ephemeral-storage": "100000Gi"}

    def __init__(self, api_client: Any) -> None:
        self.core = client.CoreV1Api(api_client)
        self.leases = client.CoordinationV1Api(api_client)
        self.stop = threading.Event()

    def start(self) -> BenchNode:
        labels = {"kubernetes.io/hostname": self.NAME}
        self.core.create_node(client.V1Node(metadata=client.V1ObjectMeta(name=self.NAME, labels=labels)))
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        ready = {
            "type": "Ready",
            "status": "True",
            "reason": "KubeletReady",
            "message": "bench node: no kubelet; hack/bench-operator.py plays one",
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        }
        self.core.patch_node_status(
            self.NAME, {"status": {"capacity": self.HUGE, "allocatable": self.HUGE, "conditions": [ready]}}
        )
        self._renew(create=True)
        threading.Thread(target=self._heartbeat, name="bench-node-lease", daemon=True).start()
        return self

    def _renew(self, create: bool = False) -> None:
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        spec = {"holderIdentity": self.NAME, "leaseDurationSeconds": 40, "renewTime": now}
        if create:
            lease = client.V1Lease(metadata=client.V1ObjectMeta(name=self.NAME))
            self.leases.create_namespaced_lease("kube-node-lease", lease)
        self.leases.patch_namespaced_lease(self.NAME, "kube-node-lease", {"spec": spec})

    def _heartbeat(self) -> None:
        while not self.stop.wait(10):
            # A failed renewal is retried in 10 s (the Lease lasts 40): giving up at the first error
            # would let the node go NotReady mid-run and its pods be evicted, silently.
            with contextlib.suppress(Exception):
                self._renew()


def wait_until_quiet(metrics_port: int, quiet_seconds: float = 20, timeout: float = 600) -> float:
    """Seconds until no reconciliation but the timer's for ``quiet_seconds`` (at most ``timeout``)."""
    started = time.monotonic()

    def busy() -> dict[str, float]:
        return {t: n for t, n in reconciliations(metrics_port).items() if t != "timer"}

    last, since = busy(), time.monotonic()
    while time.monotonic() - since < quiet_seconds and time.monotonic() - started < timeout:
        time.sleep(2)
        now = busy()
        if now != last:
            last, since = now, time.monotonic()
    return time.monotonic() - started


def reconciliations(metrics_port: int) -> dict[str, float]:
    """The operator's k2_operator_reconciliations_total by trigger, from its metrics endpoint."""
    return {
        dict(labels)["trigger"]: value
        for (name, labels), value in scrape(metrics_port).items()
        if name == "k2_operator_reconciliations_total"
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def spark_submit_baseline(cluster: DevCluster, kit: OperatorKit, work: Path) -> dict[str, float]:
    spark_submit = str(Path(sys.executable).parent / "spark-submit")
    env = {**os.environ, "HOME": str(work), "PYSPARK_PYTHON": sys.executable}
    env.pop("KUBECONFIG", None)
    t0 = time.monotonic()
    subprocess.run([spark_submit, "--version"], capture_output=True, env=env, check=True)
    version_s = time.monotonic() - t0

    ns = kit.namespace(restricted=False)  # Spark's own cluster-mode driver pod is not "restricted"
    core = kit.core
    rbac: Any = client.RbacAuthorizationV1Api(kit.cluster.api_client)
    core.create_namespaced_service_account(ns, {"metadata": {"name": "submitter"}})
    # What a cluster-mode submission creates (Spark 4.2 also writes a NetworkPolicy for the driver).
    rules = [
        {"apiGroups": [""], "resources": ["pods", "services", "configmaps"], "verbs": ["*"]},
        {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": ["*"]},
    ]
    rbac.create_namespaced_role(ns, {"metadata": {"name": "submitter"}, "rules": rules})
    rbac.create_namespaced_role_binding(
        ns,
        {
            "metadata": {"name": "submitter"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "submitter"},
            "subjects": [{"kind": "ServiceAccount", "name": "submitter", "namespace": ns}],
        },
    )
    token = core.create_namespaced_service_account_token(
        "submitter", ns, {"spec": {"expirationSeconds": 3600}}
    )
    (work / "token").write_text(token.status.token)
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    (work / "ca.crt").write_bytes(
        base64.b64decode(admin["clusters"][0]["cluster"]["certificate-authority-data"])
    )
    command = [
        spark_submit,
        "--master",
        f"k8s://{cluster.api_url}",
        "--deploy-mode",
        "cluster",
        "--name",
        "bench",
        "--conf",
        f"spark.kubernetes.namespace={ns}",
        "--conf",
        "spark.kubernetes.container.image=k2/streaming:bench",
        "--conf",
        f"spark.kubernetes.authenticate.submission.caCertFile={work / 'ca.crt'}",
        "--conf",
        f"spark.kubernetes.authenticate.submission.oauthTokenFile={work / 'token'}",
        "--conf",
        "spark.kubernetes.authenticate.driver.serviceAccountName=submitter",
        "--conf",
        "spark.kubernetes.submission.waitAppCompletion=false",
        "local:///opt/k2/app.py",
    ]
    t0 = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=work)
    submit_s = time.monotonic() - t0
    pods = core.list_namespaced_pod(ns, label_selector="spark-role=driver").items
    if result.returncode != 0 or not pods:
        lines = [line for line in result.stderr.splitlines() if not line.lstrip().startswith("at ")]
        print("\n".join(lines[-40:]), file=sys.stderr)
        raise SystemExit("cluster-mode spark-submit did not create a driver pod")
    return {"spark_submit_version_s": version_s, "spark_submit_cluster_mode_s": submit_s}


def measure(
    args: argparse.Namespace,
    kit: OperatorKit,
    kube: Any,
    work: Path,
    label: str,
    source: Path | None,
    helm_chart: Path | None,
) -> dict[str, Any]:
    """One operator (this checkout's, or the source tree ``source`` of another commit) through the
    whole measurement, with the RBAC its own chart renders, in a namespace of its own; the namespace
    is deleted (and its pods gone) before returning, so the next run starts on the same API server."""
    kubectl = [str(kube.bin_dir / "kubectl"), f"--kubeconfig={kube.kubeconfig}"]
    # Each operator with the CRD of its own commit: an operator refuses spec fields it does not know,
    # and a newer CRD defaults fields into every pipeline.
    apply_crd(kubectl, (source or REPO) / "crds" / "streamingpipelines.k2.dev.yaml")
    wait_for("the pipelines' storage after the CRD update", partial(crd_storage_ready, kit), timeout=60)
    helm = new_helm(work / f"helm-{label}")
    if helm_chart is None:
        rbac = operator_rbac_objects(helm, OPERATOR_NAMESPACE)
    else:
        rbac = helm.template(
            {"crds": {"install": False}},
            namespace=OPERATOR_NAMESPACE,
            show_only=("templates/serviceaccount.yaml", "templates/rbac.yaml"),
            chart=helm_chart,
        )
    subprocess.run(
        [*kubectl, "apply", "-f", "-"],
        input=yaml.safe_dump_all(rbac),
        text=True,
        check=True,
        capture_output=True,
    )
    kubeconfig = service_account_kubeconfig(kube, work / f"operator-{label}.kubeconfig")
    env = {}
    if source is not None:  # the older tree's packages first on the path (the editable install after)
        env["PYTHONPATH"] = os.pathsep.join(str(source / part) for part in ("operator", ".", "hack"))
    operator = OperatorProcess(
        kubeconfig,
        work / f"operator-{label}.log",
        resync_seconds=args.resync_seconds,
        full_resync_seconds=args.full_resync_seconds,
        extra_env=env,
        cwd=source or REPO,
    )
    operator.start()
    results: dict[str, Any] = {}
    ns = kit.namespace()
    try:
        pid = operator.proc.pid  # type: ignore[union-attr]
        clock = DriverPodClock(kit, ns)
        latencies = []
        cpu0 = cpu_seconds(pid)
        for i in range(args.crs):
            name = f"bench-{i:03d}"
            started = time.monotonic()
            kit.apply_pipeline(ns, name)
            done = wait_for(f"{name}'s five drivers", partial(clock.done, name), timeout=120, interval=0.01)
            latencies.append(done - started)
        results["cr_to_five_pods_p50_s"] = statistics.median(latencies)
        results["cr_to_five_pods_p99_s"] = percentile(latencies, 0.99)
        results["cr_to_five_pods_max_s"] = max(latencies)
        # With 50 CRs the p99 is the slowest one; say which, and the p99 without the operator's first
        # CR, which meets an operator that has reconciled nothing yet.
        results["cr_to_five_pods_slowest_index"] = latencies.index(max(latencies))
        results["cr_to_five_pods_p99_after_first_s"] = percentile(latencies[1:], 0.99)
        t_bulk = time.monotonic()
        for i in range(args.crs, args.pipelines):
            kit.apply_pipeline(ns, f"bench-{i:03d}")
        wait_for(
            f"{args.pipelines} pipelines with five drivers",
            lambda: len(clock.complete_at) >= args.pipelines,
            timeout=1800,
            interval=1,
        )
        results["bulk_create_s"] = time.monotonic() - t_bulk
        results["operator_cpu_s_creating_all"] = cpu_seconds(pid) - cpu0
        results["operator_rss_mib_after_create"] = rss_mib(pid)
        # The idle window starts once the operator has caught up: every pipeline Running (all drivers
        # and executors up), then a settle period for the last status writes and Events.
        wait_for(f"{args.pipelines} pipelines Running", partial(clock.all_running, args.pipelines), 1800, 2)
        results["until_all_running_s"] = time.monotonic() - t_bulk
        time.sleep(args.settle_seconds)
        # ... and until nothing but the timer reconciles: the controller-manager is still writing the
        # status of 400 feed Deployments a while after the last driver is Running, and the operator is
        # sent each of those writes (a run that opened its window early counted ~130 feed
        # reconciliations a minute and 6 % CPU, the same code 0 and 0.8 % in the next window).
        results["until_quiet_s"] = wait_until_quiet(operator.metrics_port)
        idle_cpu0, idle_t0 = cpu_seconds(pid), time.monotonic()
        reconciled0 = reconciliations(operator.metrics_port)
        profiler = start_profiler(args.profile_idle, pid, args.idle_seconds, label)
        time.sleep(args.idle_seconds)
        if profiler is not None:
            profiler.wait(timeout=60)
        results["operator_idle_cpu_percent"] = (
            100 * (cpu_seconds(pid) - idle_cpu0) / (time.monotonic() - idle_t0)
        )
        results["operator_rss_mib_idle"] = rss_mib(pid)
        idle_minutes = (time.monotonic() - idle_t0) / 60
        for trigger, count in reconciliations(operator.metrics_port).items():
            per_minute = (count - reconciled0.get(trigger, 0.0)) / idle_minutes
            results[f"idle_reconciliations_per_min.{trigger}"] = per_minute
        results["load_average_1m"] = os.getloadavg()[0]
    finally:
        operator.stop()
        clock_stop(kit, ns)
    return results


def replicaset_baseline(kit: OperatorKit, count: int) -> dict[str, float]:
    """Kubernetes' own controller on the same API server: a ReplicaSet of five replicas created ->
    its fifth pod created (a pod watch), `count` ReplicaSets one after another. What one object -> five
    pods takes on this machine with no operator code at all, the yardstick for the operator's figure."""
    ns = kit.namespace(restricted=False)
    wait_for("the namespace's default ServiceAccount", lambda: kit.core.list_namespaced_service_account(
        ns, field_selector="metadata.name=default").items, timeout=60)  # fmt: skip
    seen: dict[str, int] = {}
    complete_at: dict[str, float] = {}
    lock = threading.Lock()
    stream = watch.Watch()

    def clock() -> None:
        with contextlib.suppress(Exception):  # the stream breaks when the control plane stops
            for event in stream.stream(kit.core.list_namespaced_pod, ns, label_selector="bench-rs"):
                if event["type"] != "ADDED":
                    continue
                name = event["object"].metadata.labels["bench-rs"]
                with lock:
                    seen[name] = seen.get(name, 0) + 1
                    if seen[name] == 5:
                        complete_at[name] = time.monotonic()

    threading.Thread(target=clock, daemon=True).start()
    time.sleep(1)  # the watch is open before the first ReplicaSet
    latencies = []
    for i in range(count):
        name = f"rs-{i:03d}"
        labels = {"bench-rs": name}
        pod = {"containers": [{"name": "c", "image": "k2/none:0", "resources": {"requests": {"cpu": "1m"}}}]}
        started = time.monotonic()
        kit.apps.create_namespaced_replica_set(ns, {
            "metadata": {"name": name},
            "spec": {"replicas": 5, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": pod}},
        })  # fmt: skip
        done = wait_for(f"{name}'s five pods", partial(complete_at.get, name), timeout=120, interval=0.01)
        latencies.append(done - started)
    stream.stop()
    kit.core.delete_namespace(ns)
    return {
        "kube_replicaset_five_pods_p50_s": statistics.median(latencies),
        "kube_replicaset_five_pods_p99_s": percentile(latencies, 0.99),
        "kube_replicaset_five_pods_p99_after_first_s": percentile(latencies[1:], 0.99),
    }


def start_profiler(
    folder: Path | None, pid: int, seconds: float, label: str
) -> subprocess.Popen[bytes] | None:
    """py-spy sampling the operator's busy threads through the idle window, written as folded stacks
    (one "frame;frame;... count" line each, for flamegraph tools or a grep) per run; None when not
    asked for. py-spy is a separate process and --nonblocking pauses nothing: the CPU figure stays
    the operator's own."""
    if folder is None:
        return None
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        raise SystemExit("--profile-idle needs py-spy on PATH (pip install py-spy)")
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"operator-idle-{label}.folded.txt"
    print(f"profiling the {label} operator's idle window into {out}", file=sys.stderr)
    return subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds)),
            "--rate",
            "50",
            "--nonblocking",
            "--format",
            "raw",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
    )


def clock_stop(kit: OperatorKit, ns: str) -> None:
    """Delete the namespace and wait until it is gone (pods, pipelines and all), so the next run has the
    API server to itself: a pipeline of a terminating namespace is still listed, and the next operator
    would start by reconciling 200 of them (the first measured run of f19eae8 did)."""
    kit.core.delete_namespace(ns)
    kit.namespaces.remove(ns)
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        if not [item for item in kit.core.list_namespace().items if item.metadata.name == ns]:
            return
        # No kubelet confirms a bound pod's graceful deletion: remove them at once, as a kubelet would.
        with contextlib.suppress(client.ApiException):  # the namespace went meanwhile
            kit.core.delete_collection_namespaced_pod(ns, grace_period_seconds=0)
        time.sleep(2)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--crs", type=int, default=50)
    parser.add_argument("--pipelines", type=int, default=200)
    parser.add_argument("--idle-seconds", type=float, default=60)
    parser.add_argument("--settle-seconds", type=float, default=10)
    parser.add_argument("--resync-seconds", type=float, default=10)
    parser.add_argument(
        "--full-resync-seconds", type=float, default=120, help="the operator's and the chart's default"
    )
    parser.add_argument(
        "--baseline",
        metavar="COMMIT",
        help="also measure the operator of COMMIT (git archive of it) first, on the same API server",
    )
    parser.add_argument(
        "--profile-idle",
        type=Path,
        metavar="DIR",
        help="sample the operator with py-spy through the idle window (folded stacks, a file per run in DIR)",
    )
    parser.add_argument(
        "--skip-spark-submit", action="store_true", help="leave out the spark-submit baseline"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="k2-bench-operator-"))
    cluster = DevCluster(work / "cluster", die_with_parent=True).start()  # no orphans if killed
    assert cluster.bin_dir is not None
    print(f"control plane up in {cluster.startup_seconds:.1f} s", file=sys.stderr)
    node: BenchNode | None = None
    try:
        kubectl = [str(cluster.bin_dir / "kubectl"), f"--kubeconfig={cluster.kubeconfig}"]
        apply_crd(kubectl, REPO / "crds" / "streamingpipelines.k2.dev.yaml")
        subprocess.run([*kubectl, "create", "namespace", OPERATOR_NAMESPACE], check=True, capture_output=True)
        api_client = config.new_client_from_config(config_file=str(cluster.kubeconfig))
        from tests.fixtures.kube_fixtures import KubeCluster

        kube = KubeCluster(cluster.kubeconfig, cluster.api_url, cluster.bin_dir, api_client, cluster)
        node = BenchNode(api_client).start()
        kit = OperatorKit(kube)
        results: dict[str, Any] = {
            "pipelines": args.pipelines,
            "resync_seconds": args.resync_seconds,
            "full_resync_seconds": args.full_resync_seconds,
        }
        runs: dict[str, dict[str, Any]] = {}
        if args.baseline:
            source = work / "baseline"
            source.mkdir()
            archive = subprocess.run(
                ["git", "-C", str(REPO), "archive", args.baseline], check=True, capture_output=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
            runs["baseline"] = measure(args, kit, kube, work, "baseline", source, source / "charts" / "k2")
            results["baseline_commit"] = args.baseline
        results.update(replicaset_baseline(kit, args.crs))
        runs["current"] = measure(args, kit, kube, work, "current", None, None)
        for q in ("p50", "p99", "p99_after_first"):
            results[f"ratio_operator_over_replicaset.{q}"] = (
                runs["current"][f"cr_to_five_pods_{q}_s"] / results[f"kube_replicaset_five_pods_{q}_s"]
            )
        results["current_commit"] = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        for label, run in runs.items():
            for key, value in run.items():
                results[f"{label}.{key}"] = value
        if "baseline" in runs:
            for key, value in runs["current"].items():
                before = runs["baseline"].get(key)
                if isinstance(before, float) and before and key != "load_average_1m":
                    results[f"ratio_current_over_baseline.{key}"] = value / before
        if not args.skip_spark_submit:
            results.update(spark_submit_baseline(cluster, kit, work))
            results["shell_out_five_jobs_s"] = 5 * results["spark_submit_cluster_mode_s"]
            results["ratio_shell_out_vs_operator_p50"] = (
                results["shell_out_five_jobs_s"] / runs["current"]["cr_to_five_pods_p50_s"]
            )
        print(
            json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in results.items()}, indent=2)
        )
        return 0
    finally:
        if node is not None:
            node.stop.set()
        cluster.stop()


if __name__ == "__main__":
    raise SystemExit(main())
