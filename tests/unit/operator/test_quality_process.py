"""The quality process's Deployment, identity and status, built from a StreamingPipeline spec (pure)."""

from __future__ import annotations

import json

import pytest
from k2_operator import naming as n
from k2_operator.builders import PipelineRef
from k2_operator.pipeline_spec import PipelineSpec, PipelineSpecError
from k2_operator.quality_process import (
    SUMMARY_KEY,
    build_quality_deployment,
    build_quality_rbac,
    quality_command,
    quality_status,
)

from spark_jobs.quality import report

pytestmark = pytest.mark.unit

REF = PipelineRef("crypto", "trading", "uid-1")


def spec(**overrides: object) -> PipelineSpec:
    base = {
        "image": "k2:dev",
        "kafka": {"bootstrapServers": "kafka:9092"},
        "schemaRegistry": {"url": "http://registry:8081"},
        "storage": {
            "tablesUri": "s3a://b/tables",
            "checkpointsUri": "s3a://b/cp",
            "secretRef": {"name": "s3"},
        },
        "exchanges": [
            {"name": "binance", "symbols": ["BTCUSDT"]},
            {"name": "kraken", "symbols": ["BTC/USD"]},
        ],
    }
    return PipelineSpec.from_cr_spec({**base, **overrides})


def test_the_command_carries_the_pipeline_locations_schedule_and_thresholds():
    command = quality_command(REF, spec(quality={"intervalSeconds": 60, "dlqCritical": 0.1}))
    args = dict(zip(command[2::2], command[3::2], strict=False))
    assert command[:2] == ["k2", "quality"]
    assert args["--tables-uri"] == "s3a://b/tables" and args["--checkpoints-uri"] == "s3a://b/cp"
    assert args["--interval"] == "60" and args["--dlq-critical"] == "0.1" and args["--stale-after"] == "300"
    assert args["--report-configmap"] == "crypto-quality-report"
    assert "binance=market.crypto.trades.binance.raw" in command


def test_the_deployment_is_owned_outside_the_budget_and_scaled_by_suspend_and_enabled():
    deployment = build_quality_deployment(REF, spec())
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert deployment["metadata"]["labels"][n.LABEL_COMPONENT] == n.COMPONENT_QUALITY
    assert pod["containers"][0]["resources"]["limits"] == {"cpu": "1", "memory": "2Gi"}
    assert pod["containers"][0]["envFrom"] == [{"secretRef": {"name": "s3"}}]
    assert pod["serviceAccountName"] == "crypto-quality"
    assert deployment["spec"]["replicas"] == 1
    assert build_quality_deployment(REF, spec(suspend=True))["spec"]["replicas"] == 0
    assert build_quality_deployment(REF, spec(quality={"enabled": False}))["spec"]["replicas"] == 0


def test_the_process_may_only_read_and_update_its_report():
    _account, role, binding = build_quality_rbac(REF)
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["crypto-quality-report"],
         "verbs": ["get", "update"]}
    ]  # fmt: skip
    assert binding["subjects"][0]["name"] == "crypto-quality"


def test_status_comes_from_the_report_the_process_writes():
    assert SUMMARY_KEY == report.SUMMARY_KEY
    assert quality_status(None, "crypto-quality", True)["worstStatus"] == "pending"
    summary = {"lastRun": "2026-06-01T12:00:00Z", "worstStatus": "warning", "checks": {"freshness": {}}}
    written = {"data": {SUMMARY_KEY: json.dumps(summary)}}
    assert quality_status(written, "crypto-quality", True) == {
        "deployment": "crypto-quality", "worstStatus": "warning", "lastRun": "2026-06-01T12:00:00Z",
        "checks": {"freshness": {}},
    }  # fmt: skip
    assert quality_status(written, "crypto-quality", False)["worstStatus"] == "disabled"


def test_a_warning_above_the_critical_threshold_is_rejected_naming_the_field():
    with pytest.raises(PipelineSpecError, match=r"spec.quality.dlqWarning"):
        spec(quality={"dlqWarning": 0.2, "dlqCritical": 0.1})
