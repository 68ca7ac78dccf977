"""Per-job spec hash: the job's slice of the spec (its inputs) plus the render version, never the
rendering itself; the render hash covers what was rendered."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import yaml
from k2_operator import builders, spec_hash
from k2_operator.builders import build_config_map, build_driver_pod, build_driver_service
from k2_operator.naming import ANNOTATION_RENDER_HASH, ANNOTATION_SPEC_HASH, JOB_CONFIG_KEY
from k2_operator.planner import plan_pipeline
from k2_operator.spec_hash import hash_of, inputs_hash, render_hash, same_child, stamp

from k2_shared.job_config import dump_yaml
from tests.unit.operator.conftest import make_inputs

pytestmark = pytest.mark.unit


def job_hash(**overrides: object) -> str:
    return inputs_hash(make_inputs(**overrides))  # type: ignore[arg-type]


def test_same_inputs_same_hash() -> None:
    assert job_hash() == job_hash()
    assert len(job_hash()) == 16


@pytest.mark.parametrize(
    "change",
    [
        {"image": "k2/streaming:0.2.0"},
        {"image_pull_policy": "Always"},
        {"spark_conf": {"spark.sql.shuffle.partitions": "16"}},
        {"plan": plan_pipeline(16, 2048)["silver-binance"]},
        {"job_config": dataclasses.replace(make_inputs().job_config, trigger_interval="30 seconds")},
        {"env_from_secrets": ("s3-creds",)},
    ],
)
def test_anything_in_the_job_changes_its_hash(change: dict[str, object]) -> None:
    assert job_hash(**change) != job_hash()


def test_a_plan_change_that_leaves_this_job_alone_keeps_its_hash() -> None:
    # 14 -> 15 cores only gives Gold another executor core.
    assert job_hash(plan=plan_pipeline(15, 2048)["silver-binance"]) == job_hash()


def test_a_re_created_pipeline_with_the_same_spec_has_the_same_hash() -> None:
    other = dataclasses.replace(make_inputs().pipeline, uid="2222-3333")
    assert job_hash(pipeline=other) == job_hash()


def test_a_rendering_change_restarts_no_driver_unless_the_render_version_is_bumped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An operator upgrade that renders the same inputs differently (here: a longer termination grace
    period and another probe) keeps every spec hash, so no driver restarts; its render hash differs, so
    the ConfigMaps and Services are rewritten in place. Bumping RENDER_VERSION changes every hash."""
    inputs = make_inputs()
    before_hash, before_pod = inputs_hash(inputs), build_driver_pod(inputs)
    monkeypatch.setattr(builders, "TERMINATION_GRACE_SECONDS", 90)
    monkeypatch.setattr(builders, "readiness_probe", lambda: {"tcpSocket": {"port": "metrics"}})
    after_pod = build_driver_pod(inputs)
    assert after_pod != before_pod
    assert inputs_hash(inputs) == before_hash
    assert render_hash(after_pod) != render_hash(before_pod)
    monkeypatch.setattr(spec_hash, "RENDER_VERSION", spec_hash.RENDER_VERSION + 1)
    assert inputs_hash(inputs) != before_hash


def test_a_child_is_rewritten_when_its_spec_or_render_hash_differs() -> None:
    inputs = make_inputs()
    config_map = build_config_map(inputs)
    desired = stamp(config_map, inputs_hash(inputs), rendered=True)
    assert same_child(desired, desired)
    assert not same_child(None, desired)
    re_rendered = stamp({**config_map, "data": {"job.yaml": "x"}}, inputs_hash(inputs), rendered=True)
    assert not same_child(re_rendered, desired)
    assert not same_child(stamp(config_map, "other", rendered=True), desired)


def test_the_stamped_annotations_do_not_feed_back_into_the_render_hash() -> None:
    service = build_driver_service(make_inputs())
    stamped = stamp(service, "abc", rendered=True)
    annotations = stamped["metadata"]["annotations"]
    assert annotations[ANNOTATION_SPEC_HASH] == "abc"
    assert annotations[ANNOTATION_RENDER_HASH] == render_hash(service) == render_hash(stamped)
    assert hash_of(stamped) == "abc"
    assert "annotations" not in service["metadata"]
    assert hash_of(None) is None
    assert hash_of(service) is None


def test_stamping_leaves_the_rendered_object_as_it_was() -> None:
    """stamp copies only the metadata it annotates: the builder's object, with annotations of its own,
    is unchanged, and so is its render hash."""
    pod = build_driver_pod(make_inputs())
    pod["metadata"]["annotations"] = {"user": "kept"}
    before = copy.deepcopy(pod)
    stamped = stamp(pod, "abc", rendered=True)
    assert pod == before
    assert stamped["metadata"]["annotations"]["user"] == "kept"
    assert render_hash(stamped) == render_hash(pod)
    assert render_hash(stamp(stamped, "other", rendered=True)) == render_hash(pod)
    assert pod == before


def test_the_config_map_yaml_is_what_the_pure_python_dumper_writes() -> None:
    """The faster libyaml emitter must not change the rendered text (that would rewrite every
    ConfigMap of every pipeline on an operator upgrade)."""
    config_map = build_config_map(make_inputs())
    inputs = make_inputs()
    for key, data in (
        ("job", dataclasses.asdict(inputs.job_config)),
        ("executor template", builders.build_executor_pod_template(inputs)),
    ):
        assert dump_yaml(data) == yaml.safe_dump(data, sort_keys=True), key
    assert yaml.safe_load(config_map["data"][JOB_CONFIG_KEY]) == dataclasses.asdict(inputs.job_config)
