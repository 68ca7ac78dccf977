"""Shared steps of the e2e tier, each once per run of the tier (package scope): K2's images built and
loaded into the cluster, then Kafka and the schema registry running as pods in namespace `k2`. Each step
prints its time."""

from __future__ import annotations

import json
import os
import string
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from spark_jobs.contracts import RAW_TOPICS, with_rejected_topics
from tests.fixtures.e2e_fixtures import E2ECluster, e2e_cluster_from_env

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = Path(__file__).resolve().parent / "manifests"
NAMESPACE = "k2"
IMAGES = ("streaming", "operator", "kafka", "schema-registry")
KAFKA_BOOTSTRAP = f"kafka.{NAMESPACE}.svc.cluster.local:9092"
REGISTRY_URL = f"http://schema-registry.{NAMESPACE}.svc.cluster.local:8080/apis/ccompat/v7"
CHART = REPO / "charts" / "k2"
RELEASE = "k2"
OPERATOR_NAMESPACE = "k2-system"


def timed(timings: dict[str, float], what: str, since: float) -> float:
    timings[what] = round(time.monotonic() - since, 1)
    print(f"\n[e2e] {what}: {timings[what]} s")
    return timings[what]


def wait_until(what: str, probe: Callable[[], Any], timeout: float, interval: float = 2.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def image_ref(archive: Path) -> str:
    """docker.io/k2/NAME:TAG, as build-images.sh names the image inside its archive NAME-TAG.oci.tar."""
    name, tag = archive.name.removesuffix(".oci.tar").rsplit("-", 1)
    return f"docker.io/k2/{name}:{tag}"


@dataclass
class K2Images:
    refs: dict[str, str]  # name -> image reference inside the cluster


@dataclass
class DataServices:
    cluster: E2ECluster
    images: K2Images
    timings: dict[str, float] = field(default_factory=dict)

    def pods(self, selector: str = "") -> list[dict[str, Any]]:
        args = ["get", "pods", "-n", NAMESPACE, "-o", "json", *(["-l", selector] if selector else [])]
        return list(json.loads(self.cluster.kubectl(*args))["items"])


def build_archives() -> dict[str, Path]:
    script = REPO / "hack" / "build-images.sh"
    if not script.exists():
        pytest.skip("hack/build-images.sh is missing")
    sources = [script.read_text()]
    if "hack/images/e2e-images.sh" in sources[0]:  # Kafka's and the registry's image lines live there
        sources.append((REPO / "hack" / "images" / "e2e-images.sh").read_text())
    known = {line.split()[1] for text in sources for line in text.splitlines() if line.startswith("image ")}
    if missing := [name for name in IMAGES if name not in known]:
        pytest.skip(f"hack/build-images.sh does not build {missing} yet")
    out = subprocess.run([str(script), *IMAGES], check=True, stdout=subprocess.PIPE, text=True).stdout
    pairs = (line.split(maxsplit=1) for line in out.splitlines() if line)
    return {name: Path(path) for name, path in pairs}


def prebuilt_archives() -> dict[str, Path]:
    """K2_E2E_PREBUILT_IMAGES=1: the archives already under ~/.cache/k2/images, as they are (for
    iterating on the tests without rebuilding the images after each source change)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "k2" / "images"
    archives = {}
    for name in IMAGES:
        found = sorted(cache.glob(f"{name}-*.oci.tar"), key=lambda p: p.stat().st_mtime)
        if not found:
            pytest.skip(f"K2_E2E_PREBUILT_IMAGES: no {name} archive in {cache}")
        archives[name] = found[-1]
    return archives


# Package scope: the node, its images and data services go when the last e2e test ends, not after
# every later tier (an idle node still costs ~10 % of a core).
@pytest.fixture(scope="package")
def e2e_cluster(request: pytest.FixtureRequest) -> Iterator[E2ECluster]:
    yield from e2e_cluster_from_env(request)


@pytest.fixture(scope="package")
def k2_images(e2e_cluster: E2ECluster) -> K2Images:
    t = time.monotonic()
    archives = prebuilt_archives() if os.environ.get("K2_E2E_PREBUILT_IMAGES") else build_archives()
    timed(e2e_cluster.timings, "images built (cached when unchanged)", t)
    t = time.monotonic()
    for name in IMAGES:
        e2e_cluster.load_image(archives[name])
    timed(e2e_cluster.timings, "images loaded into the node", t)
    return K2Images({name: image_ref(archives[name]) for name in IMAGES})


@pytest.fixture(scope="package")
def data_services(e2e_cluster: E2ECluster, k2_images: K2Images) -> DataServices:
    """Kafka and the schema registry as pods behind ClusterIP Services in namespace k2."""
    e2e_cluster.kubectl("create", "namespace", NAMESPACE)
    t = time.monotonic()
    manifest = string.Template((MANIFESTS / "data-services.yaml").read_text()).substitute(
        KAFKA_IMAGE=k2_images.refs["kafka"], REGISTRY_IMAGE=k2_images.refs["schema-registry"]
    )
    e2e_cluster.kubectl("apply", "-f", "-", input=manifest)
    for name in ("kafka", "schema-registry"):
        e2e_cluster.kubectl(
            "rollout", "status", f"deploy/{name}", "-n", NAMESPACE, "--timeout=400s", timeout=420
        )
    timed(e2e_cluster.timings, "Kafka + schema registry pods Ready", t)
    t = time.monotonic()
    # As on a real cluster, the raw topics and their rejected-frames topics exist before anything
    # produces (the broker creates none; the feed refuses to start without them).
    create = " && ".join(
        f"java -Xmx128m -XX:TieredStopAtLevel=1 -cp '/opt/kafka/libs/*' org.apache.kafka.tools.TopicCommand "
        f"--bootstrap-server localhost:9092 --create --if-not-exists --topic {topic} --partitions 3 "
        "--replication-factor 1"
        for topic in with_rejected_topics(RAW_TOPICS.values())
    )
    e2e_cluster.kubectl("exec", "-n", NAMESPACE, "deploy/kafka", "--", "sh", "-c", create, timeout=300)
    timed(e2e_cluster.timings, "raw topics created", t)
    return DataServices(e2e_cluster, k2_images, e2e_cluster.timings)


@pytest.fixture(scope="session")
def helm() -> str:
    """The helm binary hack/build-helm.sh built (cached)."""
    script = REPO / "hack" / "build-helm.sh"
    if not script.exists() or not (CHART / "Chart.yaml").exists():
        pytest.skip("needs charts/k2 and hack/build-helm.sh")
    out = subprocess.run([str(script)], check=True, stdout=subprocess.PIPE, text=True).stdout
    return str(Path(out.strip().splitlines()[-1]) / "helm")


def operator_image_values(ref: str) -> list[str]:
    """`helm --set` arguments that point the chart at the operator image loaded into the node."""
    repository, tag = ref.split(":")
    registry, repository = repository.split("/", 1)
    return [
        "--set", f"image.registry={registry}", "--set", f"image.repository={repository}",
        "--set", f"image.tag={tag}", "--set", "image.pullPolicy=Never",
    ]  # fmt: skip
