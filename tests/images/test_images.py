"""The two images, built by hack/build-images.sh exactly as the e2e node and a kind cluster receive them
(OCI archives), and run here with buildah (chroot isolation, no registry).

- streaming (the job image): `spark-submit --version`, `k2 --help`, the jobs importable, uid 185, and a
  real spark-submit driver writing and reading a Delta table with no `spark.jars`: the Delta jars are on
  the JVM classpath from the start. Its executor entrypoint starts Spark's Kubernetes executor backend.
- operator: the operator imports, and there is no pyspark, no Java and no job code in it.

A second build run finds both images up to date (content-hash cache) without rebuilding.
"""

from __future__ import annotations

import hashlib
import subprocess
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.images, pytest.mark.slow, pytest.mark.timeout(2400)]

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "hack" / "build-images.sh"


def build_images() -> tuple[dict[str, Path], str]:
    done = subprocess.run([str(BUILD), "streaming", "operator"], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr[-4000:]
    archives = {name: Path(path) for name, path in (line.split() for line in done.stdout.splitlines())}
    return archives, done.stderr


@pytest.fixture(scope="module")
def archives() -> dict[str, Path]:
    built, _ = build_images()
    assert set(built) == {"streaming", "operator"}
    return built


def buildah(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(BUILD), "buildah", *args], capture_output=True, text=True)
    if check:
        assert done.returncode == 0, (
            f"buildah {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done


class Container:
    """A working container from an OCI archive; `run` executes in it as the image's user (185)."""

    def __init__(self, archive: Path) -> None:
        self.name = f"k2-test-{uuid.uuid4().hex[:8]}"
        buildah("from", "--pull=never", "--name", self.name, f"oci-archive:{archive}")

    def run(self, *command: str, check: bool = True, env: dict[str, str] | None = None) -> str:
        # The container shares the host's network and hostname, which its /etc/hosts does not name (a
        # pod's does): Spark is told its host instead of looking it up.
        env = {
            "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_LOCAL_HOSTNAME": "localhost",
            "HOME": "/tmp",
            **(env or {}),
        }
        env_args = [arg for key, value in env.items() for arg in ("--env", f"{key}={value}")]
        done = buildah("run", "--isolation", "chroot", *env_args, self.name, "--", *command, check=False)
        output = done.stdout + done.stderr
        if check:
            assert done.returncode == 0, f"{' '.join(command)} exited {done.returncode}:\n{output[-4000:]}"
        return output

    def copy(self, source: Path, destination: str) -> None:
        buildah("copy", "--chown", "185:185", self.name, str(source), destination)

    def remove(self) -> None:
        buildah("rm", self.name, check=False)


@pytest.fixture(scope="module")
def streaming(archives: dict[str, Path]) -> Iterator[Container]:
    container = Container(archives["streaming"])
    try:
        yield container
    finally:
        container.remove()


@pytest.fixture(scope="module")
def operator_image(archives: dict[str, Path]) -> Iterator[Container]:
    container = Container(archives["operator"])
    try:
        yield container
    finally:
        container.remove()


def test_the_archives_carry_the_names_a_pod_spec_resolves(archives: dict[str, Path]) -> None:
    for name, archive in archives.items():
        index = subprocess.run(
            ["tar", "-xOf", str(archive), "index.json"], capture_output=True, text=True, check=True
        ).stdout
        assert f'"docker.io/k2/{name}:' in index


def test_job_image_runs_spark_submit_and_k2_as_uid_185(streaming: Container) -> None:
    assert streaming.run("id", "-u").strip() == "185"
    version = streaming.run("spark-submit", "--version")
    assert "version 4.2.0" in version
    assert "usage: k2" in streaming.run("k2", "--help")
    imported = streaming.run(
        "python",
        "-c",
        "import delta, pyspark, spark_jobs.jobs.runner, spark_jobs.feeds.runner;"
        "from spark_jobs.spark_session import jars_on_classpath, spark_jars;"
        "print(pyspark.__version__, jars_on_classpath(), spark_jars())",
    )
    assert imported.split()[-3:] == ["4.2.0", "True", "[]"]


def test_a_spark_submit_driver_uses_delta_from_the_classpath(streaming: Container, tmp_path: Path) -> None:
    """What a driver pod does, in local mode: spark-submit starts the JVM, then K2's session factory
    (master left to spark-submit) adds no jars; Delta must already be there."""
    app = tmp_path / "delta_app.py"
    app.write_text(
        textwrap.dedent(
            """
            from spark_jobs.spark_session import build_spark_session
            spark = build_spark_session("image-test", master=None)
            assert "spark.jars" not in dict(spark.sparkContext.getConf().getAll())
            spark.range(5).write.format("delta").mode("overwrite").save("/tmp/k2-image-test/table")
            count = spark.read.format("delta").load("/tmp/k2-image-test/table").count()
            print("K2-DELTA-ROWS", count)
            spark.stop()
            """
        )
    )
    streaming.copy(app, "/tmp/delta_app.py")
    output = streaming.run(
        "spark-submit",
        "--master",
        "local[1]",
        "--conf",
        "spark.ui.enabled=false",
        "/tmp/delta_app.py",
    )
    assert "K2-DELTA-ROWS 5" in output


def test_the_executor_entrypoint_starts_the_kubernetes_executor_backend(streaming: Container) -> None:
    """Spark starts executor pods with the argument `executor` and SPARK_* variables. No driver listens
    on the given loopback port, so the backend fails to connect: its log shows it ran with them."""
    env = {
        "SPARK_DRIVER_URL": "spark://CoarseGrainedScheduler@127.0.0.1:9",
        "SPARK_EXECUTOR_ID": "7",
        "SPARK_EXECUTOR_CORES": "1",
        "SPARK_EXECUTOR_MEMORY": "256m",
        "SPARK_APPLICATION_ID": "spark-image-test",
        "SPARK_EXECUTOR_POD_IP": "127.0.0.1",
        "SPARK_EXECUTOR_POD_NAME": "image-test-exec-7",
        "SPARK_RESOURCE_PROFILE_ID": "0",
        "SPARK_JAVA_OPT_0": "-Dspark.driver.port=9",
        "SPARK_JAVA_OPT_1": "-Dspark.network.timeout=5s",
    }
    output = streaming.run("/opt/k2/entrypoint.sh", "executor", env=env, check=False)
    assert "KubernetesExecutorBackend: Started daemon" in output
    assert "Failed to connect to /127.0.0.1:9" in output


def test_operator_image_has_the_operator_and_no_spark_java_or_job_code(operator_image: Container) -> None:
    assert operator_image.run("id", "-u").strip() == "185"
    probe = operator_image.run(
        "python",
        "-c",
        "import importlib.util as u, sys, k2_operator.handlers;"
        "print([m for m in ('pyspark', 'spark_jobs', 'delta', 'k2_dev') if u.find_spec(m)],"
        " sorted(m for m in sys.modules if m.startswith(('spark_jobs', 'pyspark'))))",
    )
    assert probe.strip().splitlines()[-1] == "[] []"
    java = "if command -v java || [ -e /usr/lib/jvm ]; then echo JAVA-FOUND; else echo NO-JAVA; fi"
    assert operator_image.run("sh", "-c", java).split()[-1] == "NO-JAVA"
    assert "--liveness" in operator_image.run("python", "-m", "k2_operator", "--help")


def installed_sha256(container: Container, module_file: str) -> str:
    """sha256 of a module file as installed in the image's venv (found through the import system)."""
    return container.run(
        "python",
        "-c",
        "import hashlib, importlib.util as u, sys; spec = u.find_spec(sys.argv[1]);"
        "print(hashlib.sha256(open(spec.origin, 'rb').read()).hexdigest())",
        module_file,
    ).split()[-1]


def test_the_images_install_the_sources_of_this_checkout(
    streaming: Container, operator_image: Container
) -> None:
    """buildah's layer cache once reused a stale install layer after the sources changed (a RUN keyed by
    its text, not by its bind-mounted wheelhouse): the installed modules must be this checkout's."""
    for container, module, path in (
        (streaming, "spark_jobs.normalization", "spark_jobs/normalization.py"),
        (streaming, "spark_jobs.feeds.runner", "spark_jobs/feeds/runner.py"),
        (operator_image, "k2_operator.reconciler", "operator/k2_operator/reconciler.py"),
        (operator_image, "k2_shared.contracts", "k2_shared/contracts.py"),
    ):
        expected = hashlib.sha256((REPO / path).read_bytes()).hexdigest()
        assert installed_sha256(container, module) == expected, path


def test_a_second_build_finds_both_images_up_to_date(archives: dict[str, Path]) -> None:
    before = {name: path.stat().st_mtime_ns for name, path in archives.items()}
    again, log = build_images()
    assert again == archives
    assert {name: path.stat().st_mtime_ns for name, path in again.items()} == before
    assert log.count("up to date") == 2
