"""The operator installed from the project's wheel (not editable, outside the repository) reconciles a
pipeline against the real test API server: what it reads at run time (the driver Role's rules) ships
inside its package."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest
from k2_operator.builders import PipelineRef
from k2_operator.driver_rbac import DEFAULT_DRIVER_CLUSTER_ROLE, driver_role_rules, progress_rule
from kubernetes import client

from tests.fixtures.kube_fixtures import REPO_ROOT
from tests.fixtures.operator_fixtures import OperatorKit, OperatorProcess, wait_for

pytestmark = [pytest.mark.operator, pytest.mark.slow]

#: What the wheel is built from (copied: building in the repo would leave build/ behind).
SOURCES = ("pyproject.toml", "README.md", "k2_shared", "spark_jobs", "operator")


@pytest.fixture(scope="module")
def wheel_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch venv with the project installed from its wheel. Its dependencies come from the test
    venv's site-packages, added as a plain path, so the test venv's editable install stays invisible."""
    root = tmp_path_factory.mktemp("wheel-install")
    source = root / "source"
    for name in SOURCES:
        path = REPO_ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy(path, source / name)
    pip = [sys.executable, "-m", "pip"]
    subprocess.run(
        [*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(root / "dist"), str(source)],
        check=True,
    )
    (wheel,) = (root / "dist").glob("k2_streaming-*.whl")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True)
    python = root / "venv" / "bin" / "python"
    subprocess.run(
        [*pip, "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True
    )
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "k2-test-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return python


def test_the_wheel_holds_the_operators_runtime_manifests(wheel_python: Path, tmp_path: Path) -> None:
    located = subprocess.run(
        [
            str(wheel_python),
            "-c",
            "import k2_operator.driver_rbac as d; print(d.__file__, len(d.driver_role_rules()))",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout.split()
    assert Path(located[0]).is_relative_to(wheel_python.parent.parent)
    assert int(located[1]) == len(driver_role_rules()) > 0


@pytest.fixture
def session_operator_paused(k2_operator: OperatorProcess) -> Iterator[None]:
    """The session's cluster-wide operator would reconcile the wheel's namespace too, and whichever
    operator saw the pipeline first did the work: it is paused (SIGSTOP by pid) so that the operator
    from the wheel alone must reconcile, then resumed."""
    assert k2_operator.proc is not None
    k2_operator.proc.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        k2_operator.proc.send_signal(signal.SIGCONT)


@pytest.fixture
def wheel_operator(
    wheel_python: Path,
    operator_service_account: Path,
    op: OperatorKit,
    tmp_path: Path,
    session_operator_paused: None,
) -> Iterator[tuple[OperatorProcess, str]]:
    namespace = op.namespace()
    process = OperatorProcess(
        operator_service_account,
        tmp_path / "operator.log",
        python=str(wheel_python),
        cwd=tmp_path,
        args=("--namespace", namespace),
    )
    process.start()
    try:
        yield process, namespace
    finally:
        process.stop()


def test_an_operator_installed_from_the_wheel_reconciles_a_pipeline(
    wheel_operator: tuple[OperatorProcess, str], op: OperatorKit
) -> None:
    process, namespace = wheel_operator
    op.apply_pipeline(namespace, "from-wheel")
    rbac = client.RbacAuthorizationV1Api(op.cluster.api_client)

    def progress_role() -> client.V1Role | None:
        roles = rbac.list_namespaced_role(namespace).items
        return next((r for r in roles if r.metadata.name == "from-wheel-spark-driver-progress"), None)

    # The pipeline's own driver Role holds its progress rule; the shared rules are the chart's
    # ClusterRole, which the drivers' RoleBinding names.
    role = wait_for("the drivers' progress Role", progress_role, timeout=60)
    assert [op.cluster.api_client.sanitize_for_serialization(r) for r in role.rules] == [
        progress_rule(PipelineRef("from-wheel", namespace, ""))
    ]
    binding = rbac.read_namespaced_role_binding("from-wheel-spark-driver", namespace)
    assert (binding.role_ref.kind, binding.role_ref.name) == ("ClusterRole", DEFAULT_DRIVER_CLUSTER_ROLE)
    wait_for("five driver pods", lambda: len(op.driver_pods(namespace, "from-wheel")) == 5, timeout=60)
    assert process.metric("k2_operator_reconciliations_total", trigger="create") >= 1
    assert "Traceback" not in process.log_text()
