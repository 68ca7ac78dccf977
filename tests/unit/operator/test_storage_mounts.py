"""Storage across pods: a file:// URI only with a PVC (storage.volume), mounted at the same path in
every driver, every executor (the pod template Spark starts them from) and every feed."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from k2_operator.builders import PipelineRef
from k2_operator.desired import desired_pipeline
from k2_operator.pipeline_spec import PipelineSpec, PipelineSpecError

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
REF = PipelineRef("lake", "k2", "uid-1")
VOLUME = {"claimName": "k2-data", "mountPath": "/data"}


def spec_with_storage(**storage: Any) -> dict[str, Any]:
    spec: dict[str, Any] = copy.deepcopy(
        yaml.safe_load((ROOT / "examples" / "streamingpipeline.yaml").read_text())["spec"]
    )
    spec["storage"] = storage
    return spec


def pvc_spec() -> dict[str, Any]:
    return spec_with_storage(
        tablesUri="file:///data/k2/tables", checkpointsUri="file:///data/k2/checkpoints", volume=VOLUME
    )


def mounts_and_volumes(pod_spec: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    (container,) = pod_spec["containers"]
    return container.get("volumeMounts", []), pod_spec.get("volumes", [])


def storage_in(pod_spec: dict[str, Any]) -> tuple[str | None, str | None]:
    """(mount path, claim name) of the storage volume in a pod spec."""
    mounts, volumes = mounts_and_volumes(pod_spec)
    claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"] for v in volumes if "persistentVolumeClaim" in v
    }
    for mount in mounts:
        if mount["name"] in claims:
            return mount["mountPath"], claims[mount["name"]]
    return None, None


def every_built_pod_spec(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    pipeline = desired_pipeline(REF, PipelineSpec.from_cr_spec(spec))
    pods: dict[str, dict[str, Any]] = {}
    for job, desired in pipeline.jobs.items():
        pods[f"driver {job}"] = desired.pod["spec"]
        template = yaml.safe_load(desired.config_map["data"]["executor-pod-template.yaml"])
        pods[f"executor {job}"] = template["spec"]
    for exchange, deployment in pipeline.feeds.items():
        pods[f"feed {exchange}"] = deployment["spec"]["template"]["spec"]
    return pods


def test_the_pvc_is_mounted_at_the_same_path_in_every_driver_executor_and_feed() -> None:
    pods = every_built_pod_spec(pvc_spec())
    assert len(pods) == 5 + 5 + 2
    assert {name: storage_in(pod) for name, pod in pods.items()} == dict.fromkeys(pods, ("/data", "k2-data"))


def test_object_storage_mounts_no_volume_and_takes_credentials_from_the_secret() -> None:
    pods = every_built_pod_spec(
        spec_with_storage(
            tablesUri="s3a://lake/tables", checkpointsUri="s3a://lake/checkpoints", secretRef={"name": "lake"}
        )
    )
    for name, pod in pods.items():
        assert storage_in(pod) == (None, None), name
        if not name.startswith("feed"):
            (container,) = pod["containers"]
            assert container["envFrom"] == [{"secretRef": {"name": "lake"}}], name


@pytest.mark.parametrize(
    ("storage", "path"),
    [
        ({"tablesUri": "file:///data/t", "checkpointsUri": "s3a://lake/c"}, "spec.storage.tablesUri"),
        ({"tablesUri": "s3a://lake/t", "checkpointsUri": "file:///data/c"}, "spec.storage.checkpointsUri"),
        (
            {"tablesUri": "file:///elsewhere/t", "checkpointsUri": "file:///data/c", "volume": VOLUME},
            "spec.storage.tablesUri",
        ),
        (
            {"tablesUri": "file:///data/t", "checkpointsUri": "file:///database/c", "volume": VOLUME},
            "spec.storage.checkpointsUri",
        ),
    ],
)
def test_file_uris_without_a_volume_or_outside_it_are_rejected_naming_the_field(
    storage: dict[str, Any], path: str
) -> None:
    with pytest.raises(PipelineSpecError) as error:
        PipelineSpec.from_cr_spec(spec_with_storage(**storage))
    assert error.value.path == path
