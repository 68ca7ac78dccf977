"""Every object the operator builds is a valid Kubernetes 1.37 object (strict: an unknown or misspelled
field fails), checked offline with kubernetes-validate's schemas (the chart's objects: tests/chart/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from k2_operator import driver_rbac
from k2_operator.builders import PipelineRef, build_driver_disruption_budget
from k2_operator.desired import desired_pipeline
from k2_operator.pipeline_spec import PipelineSpec

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
REF = PipelineRef("crypto-trades", "default", "uid-1")
POD_TEMPLATE: dict[str, Any] = {
    "labels": {"team": "data"},
    "annotations": {"example.com/owner": "data"},
    "driver": {"labels": {"role": "driver"}, "annotations": {"a": "1"}},
    "executor": {"labels": {"role": "executor"}},
    "nodeSelector": {"pool": "spark"},
    "tolerations": [{"key": "spark", "operator": "Equal", "value": "yes", "effect": "NoSchedule"}],
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
                ]
            }
        }
    },
    "priorityClassName": "streaming",
    "imagePullSecrets": [{"name": "regcred"}],
    "volumes": [
        {"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}},
        {"name": "extra-conf", "configMap": {"name": "extra"}},
        {"name": "ref-data", "persistentVolumeClaim": {"claimName": "ref", "readOnly": True}},
    ],
    "volumeMounts": [
        {"name": "scratch", "mountPath": "/scratch"},
        {"name": "ref-data", "mountPath": "/ref", "readOnly": True},
    ],
}


def built_objects() -> list[dict[str, Any]]:
    spec = yaml.safe_load((ROOT / "examples" / "streamingpipeline.yaml").read_text())["spec"]
    # The example on object storage, and the same on a PVC (the volume in every pod).
    on_pvc = {
        **spec,
        "storage": {
            "tablesUri": "file:///data/t",
            "checkpointsUri": "file:///data/c",
            "volume": {"claimName": "k2-data", "mountPath": "/data"},
        },
    }
    # And with every scheduling option of spec.podTemplate.
    scheduled = {**on_pvc, "podTemplate": POD_TEMPLATE, "driverPodDisruptionBudget": True}
    objects: list[dict[str, Any]] = []
    for variant in (spec, on_pvc, scheduled):
        pipeline = desired_pipeline(REF, PipelineSpec.from_cr_spec(variant))
        for job in pipeline.jobs.values():
            template = yaml.safe_load(job.config_map["data"]["executor-pod-template.yaml"])
            template["metadata"]["name"] = "executor-template"
            objects += [job.pod, job.service, job.config_map, template]
            objects.append(build_driver_disruption_budget(job.inputs))
        objects += list(pipeline.feeds.values())
    objects += [
        driver_rbac.build_service_account(REF),
        driver_rbac.build_role_binding(REF),
        driver_rbac.build_progress_role(REF),
        driver_rbac.build_progress_role_binding(REF),
    ]
    return objects


@pytest.mark.parametrize("obj", built_objects(), ids=lambda o: f"{o['kind']}-{o['metadata']['name']}")
def test_object_is_a_valid_kubernetes_object(obj: dict[str, Any]) -> None:
    kubernetes_validate.validate(obj, "1.37", strict=True)


def test_a_misspelled_field_would_be_caught() -> None:
    pod = next(o for o in built_objects() if o["kind"] == "Pod")
    pod["spec"]["containers"][0]["securityContxt"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, "1.37", strict=True)
