"""The control plane itself: versions stamped by the build, loopback-only listeners, RBAC identities,
and the `k2 dev cluster up|env|down` CLI (a second, short-lived control plane)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from k2_dev.dev_cluster import COMPONENTS, DevCluster
from kubernetes import client

from tests.fixtures.kube_fixtures import KubeCluster

pytestmark = pytest.mark.operator

KUBE_VERSION = "v1.37.2"


def test_server_and_kubectl_report_the_built_version(kube_cluster: KubeCluster) -> None:
    server = client.VersionApi(kube_cluster.api_client).get_code()
    assert (server.git_version, server.major, server.minor) == (KUBE_VERSION, "1", "37")
    assert server.git_tree_state == "clean"
    versions = json.loads(kube_cluster.kubectl("version", "-o", "json").stdout)
    assert versions["clientVersion"]["gitVersion"] == KUBE_VERSION
    assert versions["serverVersion"]["gitVersion"] == KUBE_VERSION
    etcd = subprocess.run(
        [str(kube_cluster.bin_dir / "etcd"), "--version"], capture_output=True, text=True, check=True
    )
    assert "etcd Version: 3.7.3" in etcd.stdout


def listening_addresses(pid: int) -> set[str]:
    out = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True).stdout
    return {line.split()[3].rsplit(":", 1)[0] for line in out.splitlines() if f"pid={pid}," in line}


def test_every_component_listens_on_loopback_only(kube_cluster: KubeCluster) -> None:
    components = kube_cluster.dev_cluster.components
    assert [c.name for c in components] == list(COMPONENTS)
    for component in components:
        addresses = listening_addresses(component.pid)
        assert addresses, f"{component.name} listens nowhere?"
        assert addresses == {"127.0.0.1"}, component.name


def test_rbac_is_enforced_for_a_service_account(kube_cluster: KubeCluster) -> None:
    """--authorization-mode=Node,RBAC: a fresh ServiceAccount may not list pods, the admin may."""
    allowed = kube_cluster.kubectl(
        "auth", "can-i", "list", "pods", "--as=system:serviceaccount:default:default", check=False
    )
    assert allowed.stdout.strip() == "no"
    assert kube_cluster.kubectl("auth", "can-i", "list", "pods").stdout.strip() == "yes"


def test_scheduler_and_controller_manager_are_working(kube_cluster: KubeCluster) -> None:
    """The controller-manager made the token-less default ServiceAccount (checked at startup) and
    a ReplicaSet's pods; the scheduler tried to place them and reported that no node exists."""
    namespace = "k2-dev-cluster-tests"
    kube_cluster.kubectl("create", "namespace", namespace)
    try:
        kube_cluster.kubectl("create", "deployment", "probe", "--image=k2/none:0", "-n", namespace)
        core = client.CoreV1Api(kube_cluster.api_client)
        deadline = time.monotonic() + 60
        reasons: list[str | None] = []
        while time.monotonic() < deadline and "Unschedulable" not in reasons:
            pods = core.list_namespaced_pod(namespace, label_selector="app=probe").items
            reasons = [
                c.reason for p in pods for c in (p.status.conditions or []) if c.type == "PodScheduled"
            ]
            time.sleep(0.2)
        assert len(pods) == 1
        assert reasons == ["Unschedulable"]
    finally:
        kube_cluster.kubectl("delete", "namespace", namespace, "--wait=false")


def test_cli_up_env_down(tmp_path: Path) -> None:
    state_dir = tmp_path / "cluster"
    k2 = [sys.executable, "-m", "spark_jobs.cli", "dev", "cluster"]
    up = subprocess.run(
        [*k2, "up", "--state-dir", str(state_dir)], capture_output=True, text=True, timeout=180
    )
    assert up.returncode == 0, up.stderr
    cluster = DevCluster.load(state_dir)
    try:
        assert "control plane ready in" in up.stderr
        env_out = subprocess.run(
            [*k2, "env", "--state-dir", str(state_dir)], capture_output=True, text=True, check=True
        )
        exports = dict(re.findall(r"^export (\w+)=(.*)$", env_out.stdout, re.M))
        assert exports["KUBECONFIG"] == str(state_dir / "admin.kubeconfig")
        env = os.environ | {"KUBECONFIG": exports["KUBECONFIG"], "PATH": exports["PATH"].strip("'")}
        namespaces = subprocess.run(
            ["kubectl", "get", "namespaces", "-o", "name"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert "namespace/kube-system" in namespaces.stdout.split()
    finally:
        down = subprocess.run(
            [*k2, "down", "--state-dir", str(state_dir)], capture_output=True, text=True, timeout=120
        )
    assert down.returncode == 0, down.stderr
    for component in cluster.components:
        assert not Path(f"/proc/{component.pid}").exists() or _zombie(component.pid), component.name
    assert not (state_dir / "state.json").exists()


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


ETCD_ONLY = """
import sys, time
from pathlib import Path
from k2_dev.dev_cluster import DevCluster
cluster = DevCluster(Path(sys.argv[1]), bin_dir=Path(sys.argv[2]), die_with_parent=True)
cluster.log_dir.mkdir(parents=True)
cluster._start_etcd()
print(cluster.components[0].pid, flush=True)
time.sleep(600)
"""


def test_servers_die_with_a_killed_test_process(kube_cluster: KubeCluster, tmp_path: Path) -> None:
    """A pytest killed with SIGKILL leaves no orphaned server: they get SIGTERM from the kernel."""
    parent = subprocess.Popen(
        [sys.executable, "-c", ETCD_ONLY, str(tmp_path / "c"), str(kube_cluster.bin_dir)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    etcd_pid = int(parent.stdout.readline())
    assert Path(f"/proc/{etcd_pid}").exists()
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 15
    while Path(f"/proc/{etcd_pid}").exists() and not _zombie(etcd_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{etcd_pid}").exists() or _zombie(etcd_pid)
