"""A real single-node Kubernetes cluster for the e2e tier, offline, inside a network namespace it creates.

`KubeNode(state_dir).start()`:
  1. a network namespace `k2e2e-<pid>`, its loopback device carrying the node address (NODE_IP);
  2. the dev control plane (dev_cluster.DevCluster) inside it, the API server on NODE_IP:6443;
  3. Debian's containerd (CRI, runc, overlayfs; root/state under `state_dir`) and the pod sandbox
     ("pause") image, a static binary built by hack/build-kube.sh, imported into it;
  4. a bridge + host-local CNI network for pods (POD_CIDR, no masquerade: nothing leaves the namespace);
  5. CoreDNS on NODE_IP:53 (cluster.local from the API server) as the pods' nameserver;
  6. kube-proxy (iptables, inside the namespace) and the kubelet; returns once the node is Ready.
`stop()` kills every pod process through the node's own cgroup tree, stops the servers by pid (kubelet
first, control plane last), unmounts what they mounted under `state_dir`, restores the sysctls the
kubelet changes and deletes the namespace.

Machine facts this relies on (a Firecracker VM with cgroup v1 hybrid and no CAP_SYS_RESOURCE): the
kubelet needs `failCgroupV1: false`, `cgroupDriver: cgroupfs`, `protectKernelDefaults: false`; containerd
needs `restrict_oom_score_adj` (raising a score is refused) and must be started with `nsenter --net`
(`ip netns exec` remounts /sys); image GC thresholds 100/99 keep imported images (nothing can be pulled).

CLI: `python -m k2_dev.kube_node up|down|env [--state-dir DIR]` (hack/e2e-node.sh).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import shlex
import signal
import subprocess
import sys
import tarfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from k2_dev.dev_cluster import (
    REPO_ROOT,
    ClusterStartError,
    ComponentState,
    DevCluster,
    _terminate_with_parent,
    free_port,
    kube_bin_dir,
    stop_pid,
    tail,
)
from k2_dev.dev_pki import write_kubeconfig
from k2_dev.netns import NetNS

NODE_NAME = "k2-e2e"
#: The node's address, on the loopback device of our namespace (never routed anywhere else).
NODE_IP = "10.200.0.1"
POD_CIDR = "10.244.0.0/24"
CLUSTER_DOMAIN = "cluster.local"
#: Sysctls the kubelet sets on start (global, not per namespace): read before, written back after.
KUBELET_SYSCTLS = (
    "vm.overcommit_memory",
    "vm.panic_on_oom",
    "kernel.panic",
    "kernel.panic_on_oops",
    "kernel.keys.root_maxkeys",
    "kernel.keys.root_maxbytes",
)
CNI_BIN_DIRS = ("/usr/lib/cni", "/opt/cni/bin")
NODE_READY_TIMEOUT_SECONDS = 120.0
#: Debian packages the node runs (installed by ensure_host_packages when missing).
HOST_PACKAGES = {
    "containerd": "containerd",
    "runc": "runc",
    "containernetworking-plugins": "/usr/lib/cni/bridge",
    "iptables": "iptables",
}
DEFAULT_STATE_DIR = REPO_ROOT / ".k2" / "e2e-node"


def missing_prerequisites() -> list[str]:
    """What keeps a node from starting on this machine (empty when it can start)."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root (network namespaces, mounts, cgroups)")
    if not Path("/sys/fs/cgroup").is_dir():
        missing.append("a cgroup filesystem")
    for package, probe in HOST_PACKAGES.items():
        if not (Path(probe).exists() if probe.startswith("/") else _which(probe)):
            missing.append(f"{probe} (Debian package {package})")
    for tool in ("ip", "nsenter", "go"):
        if not _which(tool):
            missing.append(tool)
    return missing


def _which(name: str) -> bool:
    return any(
        (Path(d) / name).exists()
        for d in [*os.environ.get("PATH", "").split(os.pathsep), "/usr/sbin", "/sbin"]
    )


def ensure_host_packages() -> None:
    """apt-get install the node's Debian packages that are missing (a fresh machine); no-op otherwise."""
    missing = [
        pkg
        for pkg, probe in HOST_PACKAGES.items()
        if not (Path(probe).exists() if probe.startswith("/") else _which(probe))
    ]
    if missing and os.geteuid() == 0 and _which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-q", *missing], check=False, env=env)


def cni_bin_dir() -> str:
    for d in CNI_BIN_DIRS:
        if (Path(d) / "bridge").exists():
            return d
    raise FileNotFoundError("no CNI bridge plugin (Debian package containernetworking-plugins)")


def sysctl_exists(key: str) -> bool:
    return Path("/proc/sys", *key.split(".")).exists()


def read_sysctl(key: str) -> str:
    return Path("/proc/sys", *key.split(".")).read_text().strip()


def write_sysctl(key: str, value: str) -> None:
    with contextlib.suppress(OSError):
        Path("/proc/sys", *key.split(".")).write_text(value)


# --- the pause image ---------------------------------------------------------------------------------


def pause_image_archive(pause_binary: Path, out: Path) -> str:
    """A one-layer image holding `pause_binary` as /pause, written as a docker-archive tar that
    `ctr image import` reads. Returns its name, tagged by the binary's content hash."""
    data = pause_binary.read_bytes()
    tag = hashlib.sha256(data).hexdigest()[:12]
    name = f"docker.io/k2/pause:{tag}"
    layer_buf = io.BytesIO()
    with tarfile.open(fileobj=layer_buf, mode="w") as layer:
        info = tarfile.TarInfo("pause")
        info.size, info.mode, info.mtime = len(data), 0o755, 0
        layer.addfile(info, io.BytesIO(data))
    layer_bytes = layer_buf.getvalue()
    diff_id = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": ["/pause"], "User": "65535:65535"},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    config_bytes = json.dumps(config).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": [name], "Layers": ["layer.tar"]}]
    with tarfile.open(out, "w") as archive:
        for member, payload in (
            ("layer.tar", layer_bytes),
            (config_name, config_bytes),
            ("manifest.json", json.dumps(manifest).encode()),
        ):
            info = tarfile.TarInfo(member)
            info.size, info.mtime = len(payload), 0
            archive.addfile(info, io.BytesIO(payload))
    return name


# --- cgroups -----------------------------------------------------------------------------------------


def cgroup_mounts(with_unified: bool = False) -> list[Path]:
    """The cgroup hierarchies the kubelet (cgroupfs driver) writes to: every v1 controller mount, and
    with `with_unified` the hybrid layout's cgroup2 mount too (the kubelet creates its tree there)."""
    kinds = ("cgroup", "cgroup2") if with_unified else ("cgroup",)
    mounts = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _dev, mountpoint, fstype, *_ = line.split()
        if fstype in kinds:
            mounts.append(Path(mountpoint))
    return mounts


def create_cgroup_root(name: str) -> None:
    """`/<name>` in each hierarchy, the kubelet's cgroupRoot: its pods stay apart from anything else."""
    for mount in cgroup_mounts():
        path = mount / name
        path.mkdir(exist_ok=True)
        if (mount / "cpuset.cpus").exists():  # a new cpuset is empty until given cpus and mems
            for key in ("cpuset.cpus", "cpuset.mems"):
                if not (path / key).read_text().strip():
                    (path / key).write_text((mount / key).read_text())


def cgroup_pids(name: str) -> set[int]:
    pids: set[int] = set()
    for mount in cgroup_mounts(with_unified=True):
        # os.walk, not rglob: cgroups vanish while we walk (the kubelet or runc removing them).
        for folder, _dirs, files in os.walk(mount / name):
            if "cgroup.procs" in files:
                with contextlib.suppress(OSError, ValueError):
                    pids.update(int(p) for p in (Path(folder) / "cgroup.procs").read_text().split())
    return pids


def remove_cgroup_root(name: str) -> None:
    for mount in cgroup_mounts(with_unified=True):
        root = mount / name
        if not root.is_dir():
            continue
        for folder, _dirs, _files in os.walk(root, topdown=False):  # children before parents
            with contextlib.suppress(OSError):
                Path(folder).rmdir()
        with contextlib.suppress(OSError):
            root.rmdir()


def unmount_under(root: Path) -> int:
    """Lazily unmount every mount point below `root` (pod volumes, container rootfs), deepest first."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mountpoint = line.split()[4].encode().decode("unicode_escape")
        if mountpoint.startswith(str(root) + "/"):
            points.append(mountpoint)
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=False, stderr=subprocess.DEVNULL)
    return len(points)


# --- the node ------------------------------------------------------------------------------------------


@dataclass
class KubeNode:
    state_dir: Path
    bin_dir: Path | None = None
    die_with_parent: bool = False
    netns: NetNS = field(default_factory=lambda: NetNS(f"k2e2e-{os.getpid()}"))
    cluster: DevCluster | None = None
    components: list[ComponentState] = field(default_factory=list)
    saved_sysctls: dict[str, str] = field(default_factory=dict)
    pause_image: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def cgroup_root(self) -> str:
        return self.netns.name

    @property
    def kubeconfig(self) -> Path:
        assert self.cluster is not None
        return self.cluster.kubeconfig

    @property
    def containerd_socket(self) -> Path:
        return self.state_dir / "containerd" / "containerd.sock"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    def binary(self, name: str) -> str:
        assert self.bin_dir is not None
        return str(self.bin_dir / name)

    # -- start ------------------------------------------------------------------------------------

    def start(self) -> KubeNode:
        t0 = time.monotonic()
        if self.bin_dir is None:
            self.bin_dir = kube_bin_dir("node")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(exist_ok=True)
        self.saved_sysctls = {key: read_sysctl(key) for key in KUBELET_SYSCTLS if sysctl_exists(key)}
        try:
            self._create_network()
            self.cluster = DevCluster(
                self.state_dir / "control-plane",
                bin_dir=self.bin_dir,
                die_with_parent=self.die_with_parent,
                netns=self.netns,
                node_ip=NODE_IP,
                extra_clients={
                    "kubelet": (f"system:node:{NODE_NAME}", "system:nodes"),
                    "kube-proxy": ("system:kube-proxy", None),
                },
            ).start()
            self._lap("control plane", t0)
            t = time.monotonic()
            self._start_containerd()
            self._import_pause_image()
            self._lap("containerd + pause image", t)
            t = time.monotonic()
            self._write_cni_config()
            self._start_coredns()
            self._start_kube_proxy()
            self._start_kubelet()
            self._wait_node_ready()
            self._lap("kubelet + node Ready", t)
        except BaseException:
            self.stop()
            raise
        self._lap("total", t0)
        self._save_state()
        return self

    def _lap(self, what: str, since: float) -> None:
        self.timings[what] = round(time.monotonic() - since, 2)

    def _create_network(self) -> None:
        self.netns.create()
        # The node address sits on the namespace's loopback device (this VM's kernel has no dummy
        # interfaces); pods reach it through their bridge's gateway like any local address.
        self.netns.ip("addr", "add", f"{NODE_IP}/32", "dev", "lo")
        # Pods -> Services -> pods through the namespace's own iptables (kube-proxy's DNAT).
        self.netns.sysctl("net.ipv4.ip_forward", "1")
        with contextlib.suppress(subprocess.CalledProcessError):  # absent where br_netfilter is not loaded
            self.netns.sysctl("net.bridge.bridge-nf-call-iptables", "1")

    def _spawn(self, name: str, args: list[str]) -> ComponentState:
        # (containerd may start before or without the control plane)
        log = self.log_dir / f"{name}.log"
        binary = args[0]
        with log.open("ab") as out:
            process = subprocess.Popen(
                [*self.netns.prefix(), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_terminate_with_parent if self.die_with_parent else None,
            )
        component = ComponentState(name, binary, process.pid, str(log), process=process)
        self.components.append(component)
        return component

    def _wait(self, what: str, probe: Any, component: ComponentState, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if probe():
                return
            if not component.alive():
                raise ClusterStartError(f"{component.name} exited while waiting for {what}", component.log)
            time.sleep(0.2)
        raise ClusterStartError(f"timed out after {timeout:.0f} s waiting for {what}", component.log)

    # containerd ------------------------------------------------------------------------------------

    def _start_containerd(self) -> None:
        root = self.state_dir / "containerd"
        root.mkdir(exist_ok=True)
        self.pause_image = (
            f"docker.io/k2/pause:{hashlib.sha256(Path(self.binary('pause')).read_bytes()).hexdigest()[:12]}"
        )
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        config = f"""version = 2
root = "{root}/root"
state = "{root}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "{self.containerd_socket}"
[ttrpc]
  address = "{root}/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{root}/opt"
[{cri}]
  sandbox_image = "{self.pause_image}"
  # This VM refuses to raise an oom_score_adj (no CAP_SYS_RESOURCE): clamp instead of failing.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_unprivileged_ports = true
  [{cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [{cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [{cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false
  [{cri}.cni]
    bin_dir = "{cni_bin_dir()}"
    conf_dir = "{self.state_dir / "cni" / "net.d"}"
    max_conf_num = 1
"""
        config_file = root / "config.toml"
        config_file.write_text(config)
        containerd = self._spawn("containerd", ["/usr/bin/containerd", "--config", str(config_file)])
        self._wait(
            "containerd's socket",
            lambda: self.containerd_socket.exists() and self._ctr("version").returncode == 0,
            containerd,
        )

    def _ctr(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ctr", "--address", str(self.containerd_socket), "--namespace", "k8s.io", *args],
            capture_output=True,
            text=True,
            check=check,
        )

    def import_image(self, archive: Path) -> None:
        """Import an OCI or docker archive into the node's image store (pods then use it, never a pull)."""
        result = self._ctr("image", "import", str(archive))
        if result.returncode != 0:
            raise RuntimeError(f"ctr image import {archive} failed: {result.stderr.strip()}")

    def images(self) -> list[str]:
        return self._ctr("image", "ls", "-q", check=True).stdout.split()

    def _import_pause_image(self) -> None:
        archive = self.state_dir / "pause-image.tar"
        name = pause_image_archive(Path(self.binary("pause")), archive)
        assert name == self.pause_image
        self.import_image(archive)

    # network, DNS, kube-proxy ------------------------------------------------------------------------

    def _write_cni_config(self) -> None:
        conf_dir = self.state_dir / "cni" / "net.d"
        conf_dir.mkdir(parents=True, exist_ok=True)
        conflist = {
            "cniVersion": "1.0.0",
            "name": "k2-e2e",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": "cni0",
                    "isGateway": True,
                    # No SNAT: pods talk only to each other, the node address and Services.
                    "ipMasq": False,
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": POD_CIDR}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": str(self.state_dir / "cni" / "ipam"),
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        }
        (conf_dir / "10-k2-e2e.conflist").write_text(json.dumps(conflist, indent=2))

    def _start_coredns(self) -> None:
        assert self.cluster is not None
        health_port = free_port()
        corefile = self.state_dir / "Corefile"
        # No `forward`: there is no upstream resolver here; names outside the cluster get NXDOMAIN.
        corefile.write_text(
            f""".:53 {{
    bind {NODE_IP}
    errors
    health 127.0.0.1:{health_port}
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        kubeconfig {self.cluster.kubeconfig}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    cache 5
}}
"""
        )
        coredns = self._spawn("coredns", [self.binary("coredns"), "-conf", str(corefile)])
        self._wait(
            "CoreDNS /health",
            lambda: self.netns.probe(lambda: _http_ok(f"http://127.0.0.1:{health_port}/health")),
            coredns,
        )

    def _client_kubeconfig(self, name: str) -> Path:
        assert self.cluster is not None and self.cluster.certs is not None
        certs = self.cluster.certs
        return write_kubeconfig(
            self.state_dir / f"{name}.kubeconfig",
            self.cluster.api_url,
            certs.ca.cert,
            certs.clients[name],
            name,
        )

    def _start_kube_proxy(self) -> None:
        config = {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": str(self._client_kubeconfig("kube-proxy"))},
            "hostnameOverride": NODE_NAME,
            "mode": "iptables",
            "clusterCIDR": POD_CIDR,
            "bindAddress": NODE_IP,
            "healthzBindAddress": f"127.0.0.1:{free_port()}",
            "metricsBindAddress": f"127.0.0.1:{free_port()}",
            # Leave the host's conntrack sysctls alone (they are not per namespace).
            "conntrack": {
                "maxPerCore": 0,
                "min": 0,
                "tcpEstablishedTimeout": "0s",
                "tcpCloseWaitTimeout": "0s",
            },
        }
        path = self.state_dir / "kube-proxy.yaml"
        path.write_text(yaml.safe_dump(config))
        self._spawn("kube-proxy", [self.binary("kube-proxy"), f"--config={path}", "--v=1"])

    # kubelet ------------------------------------------------------------------------------------------

    def _start_kubelet(self) -> None:
        assert self.cluster is not None and self.cluster.certs is not None
        create_cgroup_root(self.cgroup_root)
        empty_resolv = self.state_dir / "resolv.conf"
        empty_resolv.write_text("")
        healthz_port = free_port()
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            # This VM mounts cgroup v1 (hybrid); the kubelet refuses v1 unless told not to.
            "failCgroupV1": False,
            "cgroupDriver": "cgroupfs",
            "cgroupRoot": f"/{self.cgroup_root}",
            "containerRuntimeEndpoint": f"unix://{self.containerd_socket}",
            # Not /var/log/pods: everything the node writes stays under its state folder.
            "podLogsDir": str(self.state_dir / "pod-logs"),
            "address": NODE_IP,
            "port": 10250,
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": healthz_port,
            "clusterDNS": [NODE_IP],
            "clusterDomain": CLUSTER_DOMAIN,
            # Pods get CoreDNS only; the host's resolver is unreachable from the namespace anyway.
            "resolvConf": str(empty_resolv),
            # Without CAP_SYS_RESOURCE the kernel defaults cannot be enforced.
            "protectKernelDefaults": False,
            # Nothing can be pulled again: never garbage-collect the imported images.
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "evictionHard": {
                "memory.available": "100Mi",
                "nodefs.available": "2%",
                "imagefs.available": "2%",
            },
            "failSwapOn": False,
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": True},
                "x509": {"clientCAFile": str(self.cluster.certs.ca.cert)},
            },
            "authorization": {"mode": "Webhook"},
            "serializeImagePulls": False,
            "registerNode": True,
        }
        path = self.state_dir / "kubelet.yaml"
        path.write_text(yaml.safe_dump(config))
        kubelet = self._spawn(
            "kubelet",
            [
                self.binary("kubelet"),
                f"--config={path}",
                f"--kubeconfig={self._client_kubeconfig('kubelet')}",
                f"--root-dir={self.state_dir / 'kubelet'}",
                f"--cert-dir={self.state_dir / 'kubelet-pki'}",
                f"--hostname-override={NODE_NAME}",
                f"--node-ip={NODE_IP}",
                "--v=1",
            ],
        )
        self._wait(
            "kubelet /healthz",
            lambda: self.netns.probe(lambda: _http_ok(f"http://127.0.0.1:{healthz_port}/healthz")),
            kubelet,
        )

    def kubectl(self, *args: str, check: bool = True, input: str | None = None) -> str:
        """kubectl inside the namespace, as the cluster admin."""
        result = subprocess.run(
            [*self.netns.prefix(), self.binary("kubectl"), f"--kubeconfig={self.kubeconfig}", *args],
            capture_output=True,
            text=True,
            input=input,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def _wait_node_ready(self) -> None:
        kubelet = next(c for c in self.components if c.name == "kubelet")

        def ready() -> bool:
            out = self.kubectl(
                "get",
                "node",
                NODE_NAME,
                "-o",
                'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
                check=False,
            )
            return out.strip() == "True"

        self._wait(f"node {NODE_NAME} Ready", ready, kubelet, NODE_READY_TIMEOUT_SECONDS)

    # -- stop ---------------------------------------------------------------------------------------

    def stop(self) -> dict[str, float]:
        """Every step runs even when an earlier one failed; the first failure is raised at the end."""
        took: dict[str, float] = {}
        errors: list[BaseException] = []

        def step(name: str, action: Callable[[], object]) -> None:
            t = time.monotonic()
            try:
                action()
            except Exception as exc:
                errors.append(exc)
            took[name] = round(time.monotonic() - t, 2)

        by_name = {c.name: c for c in self.components}
        for name in ("kubelet", "kube-proxy", "coredns"):
            if name in by_name:
                step(name, by_name[name].stop)
        step("pods", self._kill_pod_processes)
        if "containerd" in by_name:
            step("containerd", by_name["containerd"].stop)
        step("shims", self._stop_leftover_shims)
        if self.cluster is not None:
            step("control plane", self.cluster.stop)
        self.components = []
        step("unmount", lambda: unmount_under(self.state_dir))
        step("cgroups", lambda: remove_cgroup_root(self.cgroup_root))
        for key, value in self.saved_sysctls.items():
            step(f"sysctl {key}", lambda key=key, value=value: write_sysctl(key, value))  # type: ignore[misc]
        step("netns", self.netns.delete)
        with contextlib.suppress(FileNotFoundError):
            (self.state_dir / "state.json").unlink()
        if errors:
            raise errors[0]
        return took

    def _kill_pod_processes(self) -> None:
        """Every pod process lives in the kubelet's cgroup tree (cgroupRoot): SIGKILL them by pid."""
        for _ in range(50):
            pids = cgroup_pids(self.cgroup_root)
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)

    def leftovers(self) -> list[str]:
        """What a stopped node still holds on the host (empty after a clean stop)."""
        found = []
        if self.netns.exists():
            found.append(f"network namespace {self.netns.name}")
        found += [
            str(m / self.cgroup_root)
            for m in cgroup_mounts(with_unified=True)
            if (m / self.cgroup_root).exists()
        ]
        mountinfo = Path("/proc/self/mountinfo").read_text()
        if f" {self.state_dir}/" in mountinfo:
            found.append(f"mounts under {self.state_dir}")
        found += [f"{key}={read_sysctl(key)} (was {value})" for key, value in self.saved_sysctls.items()
                  if read_sysctl(key) != value]  # fmt: skip
        return found

    def _stop_leftover_shims(self) -> None:
        """containerd's shims outlive it by design; ours name our socket on their command line."""
        marker = str(self.containerd_socket).encode()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                cmdline = (proc / "cmdline").read_bytes()
                if b"containerd-shim" in cmdline and marker in cmdline:
                    stop_pid(int(proc.name), "containerd-shim-runc-v2", timeout=5)

    # -- reporting / persistence -----------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        assert self.bin_dir is not None
        return {
            "KUBECONFIG": str(self.kubeconfig),
            "K2_E2E_NETNS": self.netns.name,
            "PATH": f"{self.bin_dir}{os.pathsep}{os.environ['PATH']}",
        }

    def _save_state(self) -> None:
        assert self.cluster is not None
        state = {
            "netns": self.netns.name,
            "bin_dir": str(self.bin_dir),
            "saved_sysctls": self.saved_sysctls,
            "components": [c.to_json() for c in self.components],
            "control_plane": str(self.cluster.state_dir),
            "timings": self.timings,
        }
        (self.state_dir / "state.json").write_text(json.dumps(state, indent=2))

    @classmethod
    def load(cls, state_dir: Path) -> KubeNode:
        state = json.loads((state_dir / "state.json").read_text())
        return cls(
            state_dir=state_dir,
            bin_dir=Path(state["bin_dir"]),
            netns=NetNS(state["netns"]),
            cluster=DevCluster.load(Path(state["control_plane"])),
            components=[ComponentState(**c) for c in state["components"]],
            saved_sysctls=state["saved_sysctls"],
            timings=state["timings"],
        )


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def log_tails(node: KubeNode, lines: int = 30) -> str:
    return "\n".join(f"--- {Path(c.log).name} ---\n{tail(Path(c.log), lines)}" for c in node.components)


# --- CLI ------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hack/e2e-node.sh", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["up", "down", "env"])
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    args = parser.parse_args(argv)
    state_dir: Path = args.state_dir.resolve()
    if args.action == "up":
        if (state_dir / "state.json").exists():
            print(f"already up ({state_dir / 'state.json'}); `down` first", file=sys.stderr)
            return 1
        missing = missing_prerequisites()
        if missing:
            print("cannot start a node here: missing " + ", ".join(missing), file=sys.stderr)
            return 1
        node = KubeNode(state_dir).start()
        print(f"node {NODE_NAME} Ready: {node.timings}", file=sys.stderr)
        print(f'run: eval "$({sys.argv[0]} env)"; kubectl needs: nsenter --net=/run/netns/{node.netns.name}')
        return 0
    if not (state_dir / "state.json").exists():
        print(f"no node state in {state_dir}", file=sys.stderr)
        return 1
    node = KubeNode.load(state_dir)
    if args.action == "env":
        for key, value in node.env().items():
            print(f"export {key}={shlex.quote(value)}")
        return 0
    took = node.stop()
    print("stopped: " + ", ".join(f"{k} {v:.1f} s" for k, v in took.items()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
