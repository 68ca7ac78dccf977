"""Per-job spec hash: covers exactly what a job's children contain."""

from __future__ import annotations

import dataclasses

import pytest
from k2_operator.builders import build_config_map, build_driver_pod, build_driver_service
from k2_operator.naming import ANNOTATION_SPEC_HASH
from k2_operator.planner import plan_pipeline
from k2_operator.spec_hash import hash_of, spec_hash, stamp

from tests.unit.operator.conftest import make_inputs

pytestmark = pytest.mark.unit


def job_hash(**overrides: object) -> str:
    inputs = make_inputs(**overrides)  # type: ignore[arg-type]
    return spec_hash(build_config_map(inputs), build_driver_service(inputs), build_driver_pod(inputs))


def test_same_inputs_same_hash() -> None:
    assert job_hash() == job_hash()
    assert len(job_hash()) == 16


@pytest.mark.parametrize(
    "change",
    [
        {"image": "k2/streaming:0.2.0"},
        {"spark_conf": {"spark.sql.shuffle.partitions": "16"}},
        {"plan": plan_pipeline(16, 2048)["silver-binance"]},
        {"job_config": dataclasses.replace(make_inputs().job_config, trigger_interval="30 seconds")},
    ],
)
def test_anything_in_the_job_changes_its_hash(change: dict[str, object]) -> None:
    assert job_hash(**change) != job_hash()


def test_a_plan_change_that_leaves_this_job_alone_keeps_its_hash() -> None:
    # 14 -> 15 cores only gives Gold another executor core.
    assert job_hash(plan=plan_pipeline(15, 2048)["silver-binance"]) == job_hash()


def test_the_stamped_annotation_does_not_feed_back_into_the_hash() -> None:
    pod = build_driver_pod(make_inputs())
    digest = spec_hash(pod)
    stamped = stamp(pod, digest)
    assert stamped["metadata"]["annotations"][ANNOTATION_SPEC_HASH] == digest
    assert spec_hash(stamped) == digest
    assert hash_of(stamped) == digest
    assert "annotations" not in pod["metadata"]
    assert hash_of(None) is None
    assert hash_of(pod) is None
