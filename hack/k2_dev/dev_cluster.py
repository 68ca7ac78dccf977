"""A real Kubernetes control plane for tests and local development, from binaries built from source.

`DevCluster(state_dir).start()` generates certificates (dev_pki.py), starts etcd,
kube-apiserver, kube-controller-manager and kube-scheduler on free 127.0.0.1 ports, writes an admin
kubeconfig and returns once `/readyz` answers and the `default` ServiceAccount exists. `stop()` stops
the clients (scheduler, controller-manager) before the API server (the other order costs ~60 s of
client retries), then etcd; every process by its pid. Each component logs to `<state_dir>/logs/`.

No kubelet runs here: Pods are stored and scheduled attempts are made, but nothing ever runs them.
kube_node.py runs the same control plane inside a network namespace (`netns`, `node_ip`) and adds a
kubelet, containerd, kube-proxy and CoreDNS.

CLI (registered in spark_jobs/cli.py): `k2 dev cluster up|down|env [--state-dir DIR]`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from k2_dev.dev_pki import Certificates, generate_certificates, write_kubeconfig
from k2_dev.netns import NetNS

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "hack" / "build-kube.sh"
DEFAULT_STATE_DIR = REPO_ROOT / ".k2" / "dev-cluster"
SERVICE_CIDR = "10.0.0.0/24"
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
READY_TIMEOUT_SECONDS = 90.0


# --- binaries -------------------------------------------------------------------------------------


def kube_bin_dir(what: str = "control-plane") -> Path:
    """Folder with the control-plane binaries (`what="node"`: also kubelet, kube-proxy, CoreDNS, pause):
    $K2_KUBE_BIN_DIR, else what hack/build-kube.sh prints (it builds once, ~8.5 min cold, and answers
    in well under a second afterwards)."""
    if os.environ.get("K2_KUBE_BIN_DIR"):
        return Path(os.environ["K2_KUBE_BIN_DIR"])
    # stderr passes through: a cold build's progress stays visible.
    out = subprocess.run([str(BUILD_SCRIPT), what], check=True, stdout=subprocess.PIPE, text=True)
    return Path(out.stdout.strip().splitlines()[-1])


# --- processes ---------------------------------------------------------------------------------------


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago (bind port 0, read it, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _pid_runs(pid: int, binary: str) -> bool:
    """True when `pid` is alive (not a zombie) and does not run some other program (a recycled pid).
    For processes a previous `k2 dev cluster up` started; our own children are checked by Popen.
    An unreadable or empty command line counts as ours: a stricter check once reported live servers
    as gone right after their start (cause not pinned down), and the stop then left them running."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    if state == "Z":
        return False
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return True
    return not argv0 or Path(argv0).name == Path(binary).name


def stop_pid(pid: int, binary: str, timeout: float = 20.0) -> float:
    """SIGTERM, wait up to `timeout`, then SIGKILL; returns the seconds it took."""
    started = time.monotonic()
    if not _pid_runs(pid, binary):
        return 0.0
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    while time.monotonic() - started < timeout:
        _reap(pid)
        if not _pid_runs(pid, binary):
            return time.monotonic() - started
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    while _pid_runs(pid, binary):
        _reap(pid)
        time.sleep(0.05)
    return time.monotonic() - started


def _reap(pid: int) -> None:
    """Collect our own exited child (no-op for processes a previous `k2 dev cluster up` started)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _terminate_with_parent() -> None:
    """In the child before exec: ask Linux for SIGTERM when the parent dies (prctl PR_SET_PDEATHSIG)."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


@dataclass
class ComponentState:
    name: str
    binary: str
    pid: int
    log: str
    start_seconds: float = 0.0
    #: Set when this Python process started it (then `poll()` is the authority, not /proc).
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    def alive(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return _pid_runs(self.pid, self.binary)

    def stop(self, timeout: float = 20.0) -> float:
        """SIGTERM, wait up to `timeout`, then SIGKILL; returns the seconds it took."""
        if self.process is None:
            return stop_pid(self.pid, self.binary, timeout)
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return time.monotonic() - started

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k != "process"}


def _wait_until(what: str, probe: Callable[[], bool], timeout: float, component: ComponentState) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        if not component.alive():
            raise ClusterStartError(f"{component.name} exited while waiting for {what}", component.log)
        time.sleep(0.1)
    raise ClusterStartError(f"timed out after {timeout:.0f} s waiting for {what}", component.log)


class ClusterStartError(RuntimeError):
    def __init__(self, message: str, log: str) -> None:
        super().__init__(f"{message}\n--- last lines of {log} ---\n{tail(Path(log))}")


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _https_ok(url: str, context: ssl.SSLContext) -> bool:
    try:
        with urllib.request.urlopen(url, context=context, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


# --- the cluster ---------------------------------------------------------------------------------------


@dataclass
class DevCluster:
    """One control plane whose files all live under `state_dir` (certs, etcd data, logs, kubeconfig)."""

    state_dir: Path
    bin_dir: Path | None = None
    #: True (tests): each server gets SIGTERM if this process dies without stopping them, so a killed
    #: pytest leaves no orphaned control plane behind. False (`k2 dev cluster up`): they outlive the CLI.
    die_with_parent: bool = False
    components: list[ComponentState] = field(default_factory=list)
    #: Run every server inside this network namespace; the API server then listens on `node_ip`
    #: (port 6443) and advertises it, so pods reach it through the `kubernetes` Service.
    netns: NetNS | None = None
    node_ip: str | None = None
    #: name -> (CN, O): more client certificates (a kubelet, kube-proxy), under `<state_dir>/pki`.
    extra_clients: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    certs: Certificates | None = field(default=None, repr=False)
    api_url: str = ""
    etcd_url: str = ""
    startup_seconds: float = 0.0

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "admin.kubeconfig"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    def binary(self, name: str) -> str:
        assert self.bin_dir is not None
        return str(self.bin_dir / name)

    # -- start ------------------------------------------------------------------------------------

    def start(self) -> DevCluster:
        started = time.monotonic()
        if self.bin_dir is None:
            self.bin_dir = kube_bin_dir()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(exist_ok=True)
        extra_ips = (self.node_ip,) if self.node_ip else ()
        certs = generate_certificates(self.state_dir / "pki", extra_ips, self.extra_clients)
        self.certs = certs
        try:
            self._start_etcd()
            self._start_apiserver(certs)
            self._start_client("kube-controller-manager", certs, self._controller_manager_args(certs))
            self._start_client("kube-scheduler", certs, ["--leader-elect=false"])
            self._wait_default_service_account(certs)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        self._save_state()
        return self

    def _spawn(self, name: str, args: list[str]) -> ComponentState:
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as out:
            # A new session: a Ctrl-C in the terminal that ran `k2 dev cluster up` does not reach them.
            # nsenter execs the server in place: the pid stays the server's own.
            prefix = self.netns.prefix() if self.netns else []
            process = subprocess.Popen(
                [*prefix, self.binary(name), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_terminate_with_parent if self.die_with_parent else None,
            )
        component = ComponentState(name, self.binary(name), process.pid, str(log), process=process)
        self.components.append(component)
        return component

    def _start_etcd(self) -> None:
        client, peer = free_port(), free_port()
        t0 = time.monotonic()
        etcd = self._spawn(
            "etcd",
            [
                "--name=k2-dev",
                f"--data-dir={self.state_dir / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{client}",
                f"--advertise-client-urls=http://127.0.0.1:{client}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=k2-dev=http://127.0.0.1:{peer}",
                "--log-level=warn",
                # Throwaway data: skipping fsync makes every API write much faster on a shared disk.
                "--unsafe-no-fsync=true",
            ],
        )
        self.etcd_url = f"http://127.0.0.1:{client}"
        _wait_until(
            "etcd /health",
            self._in_ns(lambda: _http_ok(f"{self.etcd_url}/health")),
            READY_TIMEOUT_SECONDS,
            etcd,
        )
        etcd.start_seconds = time.monotonic() - t0

    def _in_ns(self, probe: Callable[[], bool]) -> Callable[[], bool]:
        """A probe that runs inside the cluster's network namespace, if it has one."""
        netns = self.netns
        return probe if netns is None else (lambda: netns.probe(probe))

    def _apiserver_address_args(self, port: int) -> list[str]:
        if self.node_ip:
            # Inside our own network namespace: pods reach the advertised address through the
            # `kubernetes` Service, whose endpoints the lease reconciler keeps.
            return [f"--bind-address={self.node_ip}", f"--advertise-address={self.node_ip}"]
        # No --advertise-address=127.0.0.1: the endpoint reconciler refuses loopback. No pods run
        # here, so nothing needs the `kubernetes` Service's endpoints.
        return ["--bind-address=127.0.0.1", "--endpoint-reconciler-type=none"]

    def _start_apiserver(self, certs: Certificates) -> None:
        port = 6443 if self.node_ip else free_port()
        self.api_url = f"https://{self.node_ip or '127.0.0.1'}:{port}"
        t0 = time.monotonic()
        kubelet_client = certs.clients["admin"]
        apiserver = self._spawn(
            "kube-apiserver",
            [
                f"--etcd-servers={self.etcd_url}",
                f"--secure-port={port}",
                *self._apiserver_address_args(port),
                # For logs/exec/port-forward through the kubelet (e2e node); unused without one.
                f"--kubelet-client-certificate={kubelet_client.cert}",
                f"--kubelet-client-key={kubelet_client.key}",
                "--kubelet-preferred-address-types=InternalIP",
                f"--tls-cert-file={certs.apiserver.cert}",
                f"--tls-private-key-file={certs.apiserver.key}",
                f"--client-ca-file={certs.ca.cert}",
                f"--service-account-key-file={certs.service_account_pub}",
                f"--service-account-signing-key-file={certs.service_account_key}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--authorization-mode=Node,RBAC",
                "--allow-privileged=true",
                "--profiling=false",
                f"--cert-dir={self.state_dir / 'apiserver-certs'}",
            ],
        )
        admin = self._client_ssl_context(certs, "admin")
        _wait_until(
            "kube-apiserver /readyz",
            self._in_ns(lambda: _https_ok(f"{self.api_url}/readyz", admin)),
            READY_TIMEOUT_SECONDS,
            apiserver,
        )
        apiserver.start_seconds = time.monotonic() - t0
        write_kubeconfig(self.kubeconfig, self.api_url, certs.ca.cert, certs.clients["admin"], "k2-admin")

    def _controller_manager_args(self, certs: Certificates) -> list[str]:
        return [
            "--controllers=*",  # includes the garbage collector (ownerReferences) and the token controller
            "--leader-elect=false",
            f"--service-account-private-key-file={certs.service_account_key}",
            f"--root-ca-file={certs.ca.cert}",
            "--use-service-account-credentials=true",
            f"--cluster-signing-cert-file={certs.ca.cert}",
            f"--cluster-signing-key-file={certs.ca.key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
        ]

    def _start_client(self, name: str, certs: Certificates, extra: list[str]) -> None:
        kubeconfig = write_kubeconfig(
            self.state_dir / f"{name}.kubeconfig", self.api_url, certs.ca.cert, certs.clients[name], name
        )
        port = free_port()
        t0 = time.monotonic()
        component = self._spawn(
            name,
            [
                f"--kubeconfig={kubeconfig}",
                f"--authentication-kubeconfig={kubeconfig}",
                f"--authorization-kubeconfig={kubeconfig}",
                # Skip reading the extension-apiserver-authentication ConfigMap: no aggregator here.
                "--authentication-skip-lookup=true",
                "--bind-address=127.0.0.1",
                f"--secure-port={port}",
                f"--cert-dir={self.state_dir / (name + '-certs')}",
                *extra,
            ],
        )
        insecure = ssl.create_default_context()
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE  # its self-signed serving cert; only /healthz is read
        _wait_until(
            f"{name} /healthz",
            self._in_ns(lambda: _https_ok(f"https://127.0.0.1:{port}/healthz", insecure)),
            READY_TIMEOUT_SECONDS,
            component,
        )
        component.start_seconds = time.monotonic() - t0

    def _client_ssl_context(self, certs: Certificates, client: str) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(certs.ca.cert))
        pair = certs.clients[client]
        context.load_cert_chain(str(pair.cert), str(pair.key))
        return context

    def _wait_default_service_account(self, certs: Certificates) -> None:
        """Pods can be created only once the controller-manager made the namespace's ServiceAccount."""
        url = f"{self.api_url}/api/v1/namespaces/default/serviceaccounts/default"
        admin = self._client_ssl_context(certs, "admin")
        _wait_until(
            "the default ServiceAccount",
            self._in_ns(lambda: _https_ok(url, admin)),
            READY_TIMEOUT_SECONDS,
            self.components[COMPONENTS.index("kube-controller-manager")],
        )

    # -- stop ----------------------------------------------------------------------------------------

    def stop(self) -> dict[str, float]:
        """Clients first, then the API server, then etcd. Returns seconds per component."""
        order = ["kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"]
        took: dict[str, float] = {}
        for name in order:
            for component in self.components:
                if component.name == name:
                    took[name] = component.stop()
        self.components = []
        if self.state_file.exists():
            self.state_file.unlink()
        return took

    # -- reporting and persistence -----------------------------------------------------------------------

    def report(self) -> dict[str, dict[str, float | None]]:
        """Start seconds and current RSS (MiB) of each component."""
        return {
            c.name: {"start_s": round(c.start_seconds, 2), "rss_mib": rss_mib(c.pid)} for c in self.components
        }

    def env(self) -> dict[str, str]:
        """Environment for a shell: this cluster's kubeconfig and the kubectl built with it first on PATH."""
        assert self.bin_dir is not None
        return {"KUBECONFIG": str(self.kubeconfig), "PATH": f"{self.bin_dir}{os.pathsep}{os.environ['PATH']}"}

    def _save_state(self) -> None:
        state = {
            "api_url": self.api_url,
            "bin_dir": str(self.bin_dir),
            "kubeconfig": str(self.kubeconfig),
            "components": [c.to_json() for c in self.components],
        }
        self.state_file.write_text(json.dumps(state, indent=2))

    @classmethod
    def load(cls, state_dir: Path) -> DevCluster:
        state = json.loads((state_dir / "state.json").read_text())
        return cls(
            state_dir=state_dir,
            bin_dir=Path(state["bin_dir"]),
            components=[ComponentState(**c) for c in state["components"]],
            api_url=state["api_url"],
        )


# --- CLI: k2 dev cluster up|down|env ---------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="dev_command", required=True)
    cluster = sub.add_parser("cluster", help="a local Kubernetes control plane built from source")
    cluster.add_argument("action", choices=["up", "down", "env"])
    cluster.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)


def run(args: argparse.Namespace) -> int:
    state_dir: Path = args.state_dir.resolve()
    if args.action == "up":
        if (state_dir / "state.json").exists():
            print(f"already up ({state_dir / 'state.json'}); `k2 dev cluster down` first", file=sys.stderr)
            return 1
        cluster = DevCluster(state_dir).start()
        print(f"control plane ready in {cluster.startup_seconds:.1f} s at {cluster.api_url}", file=sys.stderr)
        for name, figures in cluster.report().items():
            print(
                f"  {name}: started in {figures['start_s']} s, RSS {figures['rss_mib']:.0f} MiB",
                file=sys.stderr,
            )
        print(f'logs: {cluster.log_dir}\nrun: eval "$(k2 dev cluster env)"', file=sys.stderr)
        return 0
    if not (state_dir / "state.json").exists():
        print(f"no cluster state in {state_dir}", file=sys.stderr)
        return 1
    cluster = DevCluster.load(state_dir)
    if args.action == "env":
        for key, value in cluster.env().items():
            print(f"export {key}={shlex.quote(value)}")
        return 0
    took = cluster.stop()
    print("stopped: " + ", ".join(f"{k} {v:.1f} s" for k, v in took.items()), file=sys.stderr)
    return 0
