"""The user's story on a real node: `helm install` the chart (monitoring on), give the pipeline a
PersistentVolumeClaim, `kubectl apply` a StreamingPipeline with replay feeds sized for a 2-core node,
and check what a user would: `kubectl get sp` says Running 5/5; the five drivers and their executors run
with the cores and memory the operator's planner gave them; Gold holds exactly the replay's distinct
valid trades and the DLQ its bad records (computed from the sample with the project's own parser and
normalization, tests/e2e/replay_expectation.py), also after a driver is deleted mid-stream and the
operator recreates it; a Prometheus finds and scrapes the drivers through the chart's PodMonitor; and
`helm uninstall` removes the operator but keeps the CRD, the pipeline and the Delta tables.

The replay feeds loop over the sample for as long as the pipeline runs (the operator's replay feed
plays it forever): Gold must still hold each distinct trade once, and the DLQ holds every bad record of
the sample, each as often as the replay has played so far (never one more or one less than another).

Steps run in file order and share the module's pipeline; each prints its time and the last prints the
session's timings and the pods' resource use (the kubelet's /stats/summary), for the issue's report.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from k2_operator import naming as n
from k2_operator.builders import PipelineRef
from k2_operator.desired import DesiredPipeline, desired_pipeline
from k2_operator.pipeline_spec import PipelineSpec
from kubernetes.utils import parse_quantity

from k2_shared.jvm_options import JVM_OPTION_KEYS
from monitoring.scrape_config import discovered_targets, file_sd_scrape_configs
from spark_jobs.contracts import DLQ_TABLE, EXCHANGES, GOLD_TABLE, JOB_NAMES, bronze_table
from tests.e2e.conftest import (
    CHART,
    KAFKA_BOOTSTRAP,
    NAMESPACE,
    OPERATOR_NAMESPACE,
    REGISTRY_URL,
    RELEASE,
    REPO,
    DataServices,
    operator_image_values,
    timed,
    wait_until,
)
from tests.e2e.replay_expectation import (
    GOLD_VALUES,
    ReplayExpectation,
    dlq_identity,
    expected_from_sample,
    gold_values,
)
from tests.fixtures.processes import stop_process

#: The first step also pays for the session's setup (node, images, Kafka) and the module's (chart,
#: pipeline start): more than the project's default per-test timeout.
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.timeout(2400),
]

PIPELINE = "e2e"
CLAIM = "k2-e2e-data"
STORAGE_CLASS = "k2-e2e-hostpath"
MOUNT = "/data"
#: Sized for the 2-core, 24 GiB node that also runs Kafka, the registry and the operator: the smallest
#: budget the CRD allows, 1 GiB per Spark core (a 640 MiB heap: Spark refuses less than ~450 MiB),
#: and CPU requests of 5% of the Spark cores, so the plan's 12 cores fit in 0.6 requested CPUs.
RESOURCES = {"totalCores": 12, "memoryPerCore": "1Gi", "cpuRequestRatio": 0.05}
FEED_SIZE = {"cpu": "200m", "memory": "384Mi"}
DRIVER_START_TIMEOUT = 1200
TRIGGERS = {"bronze": "20 seconds", "silver": "20 seconds", "gold": "10 seconds"}


# --- reading the tables the pods write (the PVC's folder, seen from this process) -----------------


def delta_rows(table: Path) -> int:
    """Rows in a Delta table's current version, from its commit log alone (each added file's
    numRecords, minus the files removed since): cheap enough to poll while the jobs run."""
    log = table / "_delta_log"
    live: dict[str, int] = {}
    if not log.is_dir():
        return 0
    for commit in sorted(log.glob("*.json")):
        for line in commit.read_text().splitlines():
            action = json.loads(line)
            if "add" in action:
                stats = json.loads(action["add"].get("stats") or "{}")
                live[action["add"]["path"]] = int(stats.get("numRecords", 0))
            elif "remove" in action:
                live.pop(action["remove"]["path"], None)
    return sum(live.values())


def streaming_commits(checkpoint: Path) -> int:
    """Micro-batches a streaming query has committed (files in its checkpoint's commits/ folder)."""
    commits = checkpoint / "commits"
    return sum(1 for f in commits.iterdir() if f.name.isdigit()) if commits.is_dir() else 0


# --- the story's shared state ---------------------------------------------------------------------


@dataclass
class Story:
    services: DataServices
    data: Path  # the PVC's folder, as this process sees it
    expectation: ReplayExpectation
    cr: dict[str, Any]
    desired: DesiredPipeline
    applied_at: float
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def cluster(self) -> Any:
        return self.services.cluster

    @property
    def timings(self) -> dict[str, float]:
        return self.services.timings

    @property
    def tables(self) -> Path:
        return self.data / "tables"

    @property
    def checkpoints(self) -> Path:
        return self.data / "checkpoints"

    def get_json(self, *args: str) -> Any:
        return json.loads(self.cluster.kubectl("get", *args, "-o", "json"))

    def pipeline(self) -> dict[str, Any]:
        return dict(self.get_json("streamingpipeline", PIPELINE, "-n", NAMESPACE))

    def pods(self, component: str) -> list[dict[str, Any]]:
        selector = f"{n.LABEL_PIPELINE}={PIPELINE},{n.LABEL_COMPONENT}={component}"
        return list(self.get_json("pods", "-n", NAMESPACE, "-l", selector)["items"])


def pipeline_manifest(image: str, symbols: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    return {
        "apiVersion": n.API_VERSION,
        "kind": n.KIND,
        "metadata": {"name": PIPELINE, "namespace": NAMESPACE},
        "spec": {
            "image": image,
            "imagePullPolicy": "Never",
            "kafka": {"bootstrapServers": KAFKA_BOOTSTRAP},
            "schemaRegistry": {"url": REGISTRY_URL},
            "storage": {
                "tablesUri": f"file://{MOUNT}/tables",
                "checkpointsUri": f"file://{MOUNT}/checkpoints",
                "volume": {"claimName": CLAIM, "mountPath": MOUNT},
            },
            "exchanges": [
                {
                    "name": exchange,
                    "symbols": list(symbols[exchange]),
                    "feed": {"source": "replay", **FEED_SIZE},
                }
                for exchange in EXCHANGES
            ],
            "resources": RESOURCES,
            # Ten JVMs on two cores: at the 2 s default every job runs its batches back to back on a
            # looping replay, and the first Silver and Gold batches starve behind Bronze's. Longer
            # intervals mean fewer, larger batches (Delta's cost is mostly per commit).
            "triggers": TRIGGERS,
            # Ten JVMs starting at once on two shared cores: a driver can take minutes to serve its
            # metrics port (its readiness); the default 300 s would restart drivers that are only slow.
            "driverStartTimeoutSeconds": DRIVER_START_TIMEOUT,
            # The checks would run a sixth Spark (1 CPU requested by default) and call the 2024 sample stale.
            "quality": {"enabled": False},
            # Spark's Kubernetes client gives the API server 10 s per request by default; a driver
            # starved of CPU (its event loop blocked for seconds) failed its first GET of its own pod
            # with a TimeoutException: "External scheduler cannot be instantiated".
            "sparkConf": {
                "spark.kubernetes.driver.requestTimeout": "60000",
                "spark.kubernetes.driver.connectionTimeout": "60000",
                # Ten JVMs share two cores: HotSpot's optimizing compiler (C2) would spend much of
                # them compiling for a peak a few hundred trades never need; C1 alone starts faster.
                **dict.fromkeys(JVM_OPTION_KEYS, "-XX:TieredStopAtLevel=1"),
            },
            # A deleted driver comes back after 2 s, not the default 10 s.
            "restartPolicy": {"backoffInitialSeconds": 2},
        },
    }


def storage_manifests(node_path: str) -> list[dict[str, Any]]:
    """A hostPath PersistentVolume on the node, pre-bound to the pipeline's claim (one node: every
    driver, executor and feed pod mounts the same folder)."""
    return [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": f"{NAMESPACE}-{CLAIM}"},
            "spec": {
                "capacity": {"storage": "5Gi"},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": STORAGE_CLASS,
                "hostPath": {"path": node_path, "type": "Directory"},
                "claimRef": {"namespace": NAMESPACE, "name": CLAIM},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": CLAIM, "namespace": NAMESPACE},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": STORAGE_CLASS,
                "volumeName": f"{NAMESPACE}-{CLAIM}",
                "resources": {"requests": {"storage": "5Gi"}},
            },
        },
    ]


def prometheus_operator_crds() -> Path:
    out = subprocess.run(
        [str(REPO / "hack" / "fetch-prometheus-operator-crds.sh")], check=True, capture_output=True, text=True
    ).stdout
    return Path(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def operator_release(data_services: DataServices, helm: str) -> Iterator[str]:
    """The chart with monitoring on, as on a cluster with kube-prometheus-stack: the prometheus-operator
    CRDs first (PodMonitor, ServiceMonitor, PrometheusRule), then `helm install`."""
    cluster = data_services.cluster
    for crd in sorted(prometheus_operator_crds().glob("*.yaml")):
        # Server-side: the CRDs are larger than client-side apply's last-applied annotation allows.
        cluster.kubectl("apply", "--server-side", "-f", str(crd))
    t = time.monotonic()
    cluster.run(
        [helm, "install", RELEASE, str(CHART), "-n", OPERATOR_NAMESPACE, "--create-namespace",
         *operator_image_values(data_services.images.refs["operator"]), "--set", "monitoring.enabled=true",
         "--wait", "--timeout=5m"],
        timeout=330,
    )  # fmt: skip
    timed(data_services.timings, "helm install, monitoring on (operator Ready)", t)
    yield helm
    cluster.run([helm, "uninstall", RELEASE, "-n", OPERATOR_NAMESPACE, "--wait"], check=False)


@pytest.fixture(scope="module")
def story(data_services: DataServices, operator_release: str) -> Iterator[Story]:
    cluster = data_services.cluster
    assert cluster.data_dir is not None
    data = cluster.data_dir / "k2"
    data.mkdir()
    data.chmod(0o777)  # the pods run as uid 185; a hostPath keeps the host's owner and mode
    for manifest in storage_manifests(f"{cluster.node_data_dir}/k2"):
        cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(manifest))
    wait_until(
        "the pipeline's claim to be Bound",
        lambda: (
            json.loads(cluster.kubectl("get", "pvc", CLAIM, "-n", NAMESPACE, "-o", "json"))["status"].get(
                "phase"
            )
            == "Bound"
        ),
        timeout=60,
        interval=1,
    )
    expectation = expected_from_sample()
    cr = pipeline_manifest(data_services.images.refs["streaming"], expectation.symbols)
    applied_at = time.monotonic()
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(cr))
    created = json.loads(cluster.kubectl("get", "streamingpipeline", PIPELINE, "-n", NAMESPACE, "-o", "json"))
    ref = PipelineRef(PIPELINE, NAMESPACE, created["metadata"]["uid"])
    # What the operator computes from the stored spec (the API server's defaults applied).
    desired = desired_pipeline(ref, PipelineSpec.from_cr_spec(created["spec"]))
    story = Story(data_services, data, expectation, cr, desired, applied_at)
    try:
        yield story
    finally:
        # Free the node's cores for whatever runs next: without the operator nobody removes the
        # finalizer, so drop it, then delete the pipeline (its children go with it).
        cluster.kubectl(
            "patch", "streamingpipeline", PIPELINE, "-n", NAMESPACE, "--type=merge",
            "-p", '{"metadata":{"finalizers":null}}', check=False,
        )  # fmt: skip
        cluster.kubectl("delete", "streamingpipeline", PIPELINE, "-n", NAMESPACE, "--wait=false", check=False)


# --- 1. Running 5/5, sized by the plan ---------------------------------------------------------


def get_sp_columns(story: Story) -> dict[str, str]:
    """`kubectl get sp` as a user reads it: header -> value of the pipeline's row."""
    text = story.cluster.kubectl("get", "sp", "-n", NAMESPACE)
    header, *rows = text.splitlines()
    row = next(r for r in rows if r.split()[0] == PIPELINE)
    return dict(zip(header.split(), row.split(), strict=False))


def executors_running(story: Story) -> dict[str, int]:
    running: Counter[str] = Counter()
    for pod in story.pods(n.COMPONENT_EXECUTOR):
        if pod["status"].get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp"):
            running[pod["metadata"]["labels"][n.LABEL_JOB]] += 1
    return dict(running)


def everything_running(story: Story) -> bool:
    columns = get_sp_columns(story)
    planned = {job: plan.executor_instances for job, plan in story.desired.plan.jobs.items()}
    return (
        columns.get("PHASE") == "Running"
        and columns.get("READY") == "5/5"
        and executors_running(story) == planned
    )


def resources_of(pod: dict[str, Any]) -> dict[str, Any]:
    container = pod["spec"]["containers"][0]["resources"]
    return {
        kind: {name: parse_quantity(value) for name, value in container.get(kind, {}).items()}
        for kind in ("requests", "limits")
    }


def planned(size: Any) -> dict[str, Any]:
    """A planner PodSize as the pod's resources must read."""
    return {
        "requests": {"cpu": parse_quantity(size.cpu_request), "memory": parse_quantity(size.memory)},
        "limits": {"cpu": parse_quantity(size.cpu_limit), "memory": parse_quantity(size.memory)},
    }


def test_kubectl_get_sp_shows_five_jobs_running_with_the_planned_resources(story: Story):
    try:
        wait_until("Running 5/5 with every planned executor", lambda: everything_running(story), 900, 5)
    finally:
        print("\n" + story.cluster.kubectl("get", "sp", "-n", NAMESPACE, "-o", "wide", check=False))
        print(story.cluster.kubectl("get", "pods", "-n", NAMESPACE, "-o", "wide", check=False))
    timed(story.timings, "pipeline applied -> Running 5/5, every executor Running", story.applied_at)
    columns = get_sp_columns(story)
    assert columns["CORES"] == str(RESOURCES["totalCores"])

    plan = story.desired.plan
    status = story.pipeline()["status"]
    assert status["plan"]["jobs"] == {job: p.as_status() for job, p in plan.jobs.items()}
    assert sum(p.total_cores for p in plan.jobs.values()) == RESOURCES["totalCores"]
    drivers = {pod["metadata"]["labels"][n.LABEL_JOB]: pod for pod in story.pods(n.COMPONENT_DRIVER)}
    assert sorted(drivers) == sorted(JOB_NAMES)
    for job, job_plan in plan.jobs.items():
        assert resources_of(drivers[job]) == planned(job_plan.driver), job
        executors = [
            pod for pod in story.pods(n.COMPONENT_EXECUTOR) if pod["metadata"]["labels"][n.LABEL_JOB] == job
        ]
        assert len(executors) == job_plan.executor_instances, job
        for executor in executors:
            assert resources_of(executor) == planned(job_plan.executor), (job, executor["metadata"]["name"])
            # Spark's scheduler made it from the operator's template: same uid, same volume.
            assert executor["spec"]["securityContext"]["runAsUser"] == n.RUN_AS_USER
            claims = [
                v["persistentVolumeClaim"]["claimName"]
                for v in executor["spec"]["volumes"]
                if "persistentVolumeClaim" in v
            ]
            assert claims == [CLAIM], executor["metadata"]["name"]
    feeds = story.pipeline()["status"].get("feeds", {})
    assert {e: feeds[e]["phase"] for e in EXCHANGES} == dict.fromkeys(EXCHANGES, "Running"), feeds


# --- 2. Gold exact, DLQ its bad records ----------------------------------------------------------


def read_table(spark: Any, story: Story, table: str) -> list[dict[str, Any]]:
    return [row.asDict() for row in spark.read.format("delta").load(str(story.tables / table)).collect()]


def check_gold_is_exact(spark: Any, story: Story) -> int:
    rows = read_table(spark, story, GOLD_TABLE)
    ids = Counter(row["message_id"] for row in rows)
    duplicated = {key: count for key, count in ids.items() if count > 1}
    assert not duplicated, f"Gold holds {len(duplicated)} trades more than once, e.g. {list(duplicated)[:3]}"
    got = {row["message_id"]: gold_values(row) for row in rows}
    expected = story.expectation.gold
    missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
    assert not missing and not extra, (
        f"missing {len(missing)} {missing[:3]}, unexpected {len(extra)} {extra[:3]}"
    )
    differing = [key for key in expected if got[key] != expected[key]]
    assert not differing, f"{GOLD_VALUES} differ, e.g. {[(got[k], expected[k]) for k in differing[:2]]}"
    return len(rows)


def check_dlq_holds_the_bad_records(spark: Any, story: Story) -> Counter[Any]:
    rows = read_table(spark, story, DLQ_TABLE)
    where = Counter((row["kafka_topic"], row["kafka_partition"], row["kafka_offset"]) for row in rows)
    twice = [key for key, count in where.items() if count > 1]
    assert not twice, f"Kafka records in the DLQ more than once: {twice[:3]}"
    bronze = {
        (row["topic"], row["partition"], row["offset"])
        for exchange in EXCHANGES
        for row in spark.read.format("delta")
        .load(str(story.tables / bronze_table(exchange)))
        .select("topic", "partition", "offset")
        .collect()
    }
    assert set(where) <= bronze, "DLQ rows whose Kafka record is not in Bronze"
    seen = Counter(dlq_identity(row) for row in rows)
    expected = story.expectation.bad
    assert set(seen) == set(expected), (
        f"not in the DLQ: {sorted(set(expected) - set(seen), key=str)[:3]}; "
        f"unexpected: {sorted(set(seen) - set(expected), key=str)[:3]}"
    )
    # Each replay of an exchange's sample adds each of its bad records once: however far that replay
    # is, no record is two behind another of the same exchange (the two feeds replay independently).
    for exchange in EXCHANGES:
        replays = {
            record: seen[record] / count for record, count in expected.items() if record.exchange == exchange
        }
        assert max(replays.values()) - min(replays.values()) <= 1, (exchange, replays)
    return seen


def test_gold_holds_exactly_the_replays_distinct_trades_and_the_dlq_its_bad_records(story: Story, spark):
    gold = story.tables / GOLD_TABLE
    # Ten JVMs share two cores: the first Gold row came 9 min into this wait with the machine alone
    # (Silver's first batch alone took 6 min) and later than 10 min with one more process competing.
    wait_until("the first Gold row", lambda: delta_rows(gold) > 0, timeout=900, interval=2)
    timed(story.timings, "pipeline applied -> first Gold row", story.applied_at)
    expected = len(story.expectation.gold)
    wait_until(
        f"Gold to reach {expected} rows", lambda: delta_rows(gold) >= expected, timeout=600, interval=5
    )
    timed(story.timings, f"pipeline applied -> Gold complete ({expected} distinct trades)", story.applied_at)
    story.notes["gold rows"] = check_gold_is_exact(spark, story)
    dlq = check_dlq_holds_the_bad_records(spark, story)
    story.notes["dlq rows"] = sum(dlq.values())
    print(
        f"\n[e2e] Gold {story.notes['gold rows']} rows = the sample's distinct valid trades; DLQ "
        f"{sum(dlq.values())} rows = {len(story.expectation.bad)} bad records x the replays so far; "
        f"per replay the feeds produce {story.expectation.produced} trades"
    )


# --- 3. Prometheus scrapes the drivers through the chart's PodMonitor ----------------------------


@dataclass
class PrometheusInNode:
    url: str
    process: subprocess.Popen[bytes]
    netns: Any

    def get(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""

        def fetch() -> Any:
            with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=10) as response:
                return json.loads(response.read())["data"]

        return self.netns.call(fetch)

    def ready(self) -> bool:
        try:
            return bool(self.get("/api/v1/status/buildinfo"))
        except OSError:
            return False


def prometheus_bin() -> Path:
    out = subprocess.run(
        [str(REPO / "hack" / "fetch-prometheus.sh")], check=True, capture_output=True, text=True
    ).stdout
    return Path(out.strip().splitlines()[-1])


class PodDiscovery:
    """Kubernetes pod discovery for a Prometheus built without it (Debian's package has no
    ``kubernetes_sd_configs``): lists the cluster's pods every few seconds and writes what discovery
    would find for the PodMonitor to the file its ``file_sd_configs`` read. Selecting by the monitor's
    labels and ports is still Prometheus' relabelling, as on a cluster."""

    def __init__(self, story: Story, monitor: dict[str, Any], path: Path) -> None:
        self.story, self.monitor, self.path = story, monitor, path
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="pod-discovery", daemon=True)

    def write(self) -> None:
        pods = self.story.get_json("pods", "--all-namespaces")["items"]
        groups = discovered_targets(pods, self.monitor["spec"], self.monitor["metadata"]["namespace"])
        partial = self.path.with_suffix(".tmp")
        partial.write_text(json.dumps(groups))
        partial.replace(self.path)  # Prometheus never reads a half-written file

    def _run(self) -> None:
        while not self.stop.wait(3):
            try:
                self.write()
            except (subprocess.CalledProcessError, OSError) as error:  # the next round tries again
                print(f"[e2e] pod discovery: {error}")

    def __enter__(self) -> PodDiscovery:
        self.write()
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def prometheus(story: Story, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusInNode]:
    cluster = story.cluster
    if cluster.node is None:
        pytest.skip("Prometheus runs in the node's network namespace (K2_E2E_CLUSTER=node)")
    work = tmp_path_factory.mktemp("prometheus")
    binaries = prometheus_bin()
    monitors = story.get_json("podmonitors.monitoring.coreos.com", "-n", OPERATOR_NAMESPACE)["items"]
    assert len(monitors) == 1, [m["metadata"]["name"] for m in monitors]
    monitor = monitors[0]
    targets = work / "targets.json"
    config = {
        "global": {"scrape_interval": "5s", "scrape_timeout": "5s"},
        "scrape_configs": file_sd_scrape_configs(
            monitor["metadata"]["name"], OPERATOR_NAMESPACE, monitor["spec"], str(targets)
        ),
    }
    story.notes["pod monitor"] = f"{OPERATOR_NAMESPACE}/{monitor['metadata']['name']}"
    config_path = work / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    check = subprocess.run(
        [str(binaries / "promtool"), "check", "config", str(config_path)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    port = 19090  # inside the node's own network namespace: nothing else listens there
    with (work / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(
            [*cluster.prefix, str(binaries / "prometheus"), f"--config.file={config_path}",
             f"--storage.tsdb.path={work / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    server = PrometheusInNode(f"http://127.0.0.1:{port}", process, cluster.node.netns)
    try:
        with PodDiscovery(story, monitor, targets):
            wait_until("Prometheus ready", server.ready, timeout=60, interval=1)
            yield server
    finally:
        stop_process(process)
        if process.returncode not in (0, -15):
            print((work / "prometheus.log").read_text()[-3000:])


def targets_by_endpoint(prom: PrometheusInNode) -> dict[str, dict[str, str]]:
    """endpoint label -> {pod: health} of the active targets."""
    found: dict[str, dict[str, str]] = {}
    for target in prom.get("/api/v1/targets", state="active")["activeTargets"]:
        labels = target["labels"]
        found.setdefault(labels.get("endpoint", "?"), {})[labels.get("pod", "?")] = target["health"]
    return found


def test_prometheus_scrapes_the_drivers_through_the_chart_pod_monitor(
    story: Story, prometheus: PrometheusInNode
):
    """Every endpoint of the chart's PodMonitor (K2's metrics port, Spark's driver servlet and its
    executor summary, both on the UI port) is discovered on each of the five drivers and scraped."""
    drivers = {pod["metadata"]["name"] for pod in story.pods(n.COMPONENT_DRIVER)}
    endpoints = {n.METRICS_PORT_NAME, "spark-ui", "spark-ui-executors"}

    def all_up() -> dict[str, dict[str, str]] | None:
        targets = targets_by_endpoint(prometheus)
        healthy = all(
            set(targets.get(endpoint, {})) == drivers and set(targets[endpoint].values()) == {"up"}
            for endpoint in endpoints
        )
        return targets if healthy else None

    t = time.monotonic()
    try:
        wait_until("every PodMonitor endpoint of every driver scraped", all_up, timeout=180, interval=3)
    finally:
        story.notes["prometheus targets"] = targets_by_endpoint(prometheus)
        print(f"\n[e2e] Prometheus targets by endpoint: {story.notes['prometheus targets']}")
    timed(story.timings, "Prometheus started -> every driver endpoint up", t)
    # K2's own series from all five jobs, carrying the PodMonitor's pipeline label.
    query = f'count by (k2_job) (k2_records_processed_total{{pipeline="{PIPELINE}"}})'
    jobs = {sample["metric"]["k2_job"] for sample in prometheus.get("/api/v1/query", query=query)["result"]}
    assert jobs == set(JOB_NAMES), jobs
    story.notes["prometheus"] = (
        "Debian prometheus in the node's network namespace; pods found as kubernetes_sd role pod would"
        " (file_sd written from the API: Debian builds it without Kubernetes discovery)"
    )


# --- 4. A driver deleted mid-stream ----------------------------------------------------------------


def test_a_deleted_driver_is_recreated_by_the_operator_and_gold_stays_exact(story: Story, spark):
    job = "gold"
    name = n.driver_pod_name(PIPELINE, job)
    before = story.get_json("pod", name, "-n", NAMESPACE)["metadata"]["uid"]
    commits_before = streaming_commits(story.checkpoints / job)
    t = time.monotonic()
    story.cluster.kubectl("delete", "pod", name, "-n", NAMESPACE, "--wait=false")

    def recreated_and_running() -> bool:
        pod = json.loads(
            story.cluster.kubectl("get", "pod", name, "-n", NAMESPACE, "-o", "json", check=False) or "{}"
        )
        return (
            bool(pod)
            and pod["metadata"]["uid"] != before
            and pod["status"].get("phase") == "Running"
            and everything_running(story)
        )

    wait_until("the operator to recreate the Gold driver", recreated_and_running, timeout=600, interval=3)
    timed(story.timings, "driver deleted -> recreated, Running 5/5 again", t)
    jobs = story.pipeline()["status"]["jobs"]
    assert jobs[job]["restarts"] >= 1, jobs[job]
    # The new driver resumes from its checkpoint and commits batches of the still-looping replay.
    wait_until(
        "two Gold batches after the restart",
        lambda: streaming_commits(story.checkpoints / job) >= commits_before + 2,
        timeout=600,
        interval=5,
    )
    timed(story.timings, "driver deleted -> two more Gold batches committed", t)
    check_gold_is_exact(spark, story)
    check_dlq_holds_the_bad_records(spark, story)


# --- 5. Resource use ----------------------------------------------------------------------------------


def test_pod_resource_use_from_the_kubelet(story: Story):
    node = story.get_json("nodes")["items"][0]["metadata"]["name"]
    summary = json.loads(story.cluster.kubectl("get", "--raw", f"/api/v1/nodes/{node}/proxy/stats/summary"))
    rows = []
    for pod in summary["pods"]:
        ref = pod["podRef"]
        if ref["namespace"] not in (NAMESPACE, OPERATOR_NAMESPACE):
            continue
        cpu = (pod.get("cpu") or {}).get("usageNanoCores")
        memory = (pod.get("memory") or {}).get("workingSetBytes")
        rows.append(
            (ref["name"], None if cpu is None else cpu / 1e6, None if memory is None else memory / 2**20)
        )
    rows.sort()
    lines = [f"{'pod':<48} {'cpu (millicores)':>17} {'memory (MiB)':>13}"]
    lines += [f"{name:<48} {cpu or 0:>17.0f} {memory or 0:>13.0f}" for name, cpu, memory in rows]
    total_cpu = sum(cpu or 0 for _, cpu, _ in rows)
    total_memory = sum(memory or 0 for _, _, memory in rows)
    lines.append(f"{'all K2 pods':<48} {total_cpu:>17.0f} {total_memory:>13.0f}")
    node_stats = summary["node"]
    lines.append(
        f"{'node':<48} {node_stats['cpu'].get('usageNanoCores', 0) / 1e6:>17.0f} "
        f"{node_stats['memory'].get('workingSetBytes', 0) / 2**20:>13.0f}"
    )
    print("\n[e2e] pod resource use (kubelet /stats/summary):\n" + "\n".join(lines))
    story.notes["resource use"] = lines
    assert rows, "the kubelet reported no pod of the pipeline"
    # Every Spark pod stays inside its planned memory (the limit the planner set).
    plan = story.desired.plan
    for name, _cpu, memory in rows:
        for job, job_plan in plan.jobs.items():
            if name == n.driver_pod_name(PIPELINE, job) and memory is not None:
                assert memory <= job_plan.driver.memory_mib, (name, memory)


# --- 6. helm uninstall --------------------------------------------------------------------------------


def test_helm_uninstall_removes_the_operator_and_keeps_the_crd_pipeline_and_data(
    story: Story, operator_release: str, spark
):
    gold_before = delta_rows(story.tables / GOLD_TABLE)
    story.cluster.run(
        [operator_release, "uninstall", RELEASE, "-n", OPERATOR_NAMESPACE, "--wait", "--timeout=3m"]
    )
    wait_until(
        "the operator's Deployment and pods to be gone",
        lambda: not story.get_json("deploy,pods", "-n", OPERATOR_NAMESPACE)["items"],
        timeout=120,
    )
    story.cluster.kubectl("get", "crd", f"{n.PLURAL}.{n.GROUP}")
    assert story.pipeline()["metadata"]["name"] == PIPELINE
    assert delta_rows(story.tables / GOLD_TABLE) >= gold_before
    check_gold_is_exact(spark, story)
    print("\n[e2e] timings (s):\n" + "\n".join(f"  {what}: {took}" for what, took in story.timings.items()))
    print(f"[e2e] notes: {json.dumps(story.notes, default=str, indent=1)}")
    out = os.environ.get("K2_E2E_REPORT")
    if out:
        Path(out).write_text(
            json.dumps({"timings": story.timings, "notes": story.notes}, default=str, indent=1)
        )
