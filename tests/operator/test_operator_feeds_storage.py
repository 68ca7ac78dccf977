"""Feeds and storage with the real operator against the real API server: one feed Deployment per
exchange with `feed` (its status in the pipeline's status.feeds, following the Deployment as the
controller-manager reports it), and a PVC mounted at the same path in every pod the operator builds.
No kubelet runs here: the test marks a feed pod Ready the way a kubelet would after /healthz passed."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from k2_operator import naming as n

from tests.fixtures.operator_fixtures import OperatorKit, OperatorProcess, wait_for, wait_until

pytestmark = pytest.mark.operator

PVC_STORAGE = {
    "storage": {
        "tablesUri": "file:///data/k2/tables",
        "checkpointsUri": "file:///data/k2/checkpoints",
        "volume": {"claimName": "k2-data", "mountPath": "/data"},
    }
}


def feed_phase(op: OperatorKit, ns: str, name: str, exchange: str) -> str | None:
    return ((op.status(ns, name).get("feeds") or {}).get(exchange) or {}).get("phase")


def storage_mount(containers: list[Any], volumes: list[Any]) -> tuple[str, str] | None:
    claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"] for v in volumes if v.get("persistentVolumeClaim")
    }
    for mount in containers[0].get("volumeMounts") or []:
        if mount["name"] in claims:
            return mount["mountPath"], claims[mount["name"]]
    return None


def test_each_exchange_feed_runs_as_a_deployment_reported_in_the_status(
    k2_operator: OperatorProcess, op: OperatorKit
) -> None:
    ns, name = op.namespace(), "feeds"
    cr = op.apply_pipeline(ns, name)
    deployments = wait_until(
        "two feed Deployments", lambda: op.feed_deployments(ns, name), lambda d: len(d) == 2
    )
    binance = deployments["binance"]
    assert binance.metadata.name == f"{name}-feed-binance"
    assert binance.metadata.owner_references[0].uid == cr["metadata"]["uid"]
    container = binance.spec.template.spec.containers[0]
    assert container.image == cr["spec"]["image"]
    assert container.command[:2] == ["k2", "feed"]
    assert container.command[container.command.index("--symbols") + 1 :][:2] == ["BTCUSDT", "ETHUSDT"]
    assert container.liveness_probe.http_get.path == "/healthz"
    assert binance.spec.template.spec.security_context.run_as_user == 185
    status = wait_until(
        "status.feeds for both exchanges",
        lambda: op.status(ns, name),
        lambda s: set(s.get("feeds") or {}) == {"binance", "kraken"},
    )
    assert status["feeds"]["kraken"]["source"] == "synthetic"
    assert status["feeds"]["binance"]["phase"] == "Pending"
    assert status["plan"]["totalCores"] == 14  # feeds are outside the core budget

    # Play the kubelet: the ReplicaSet's pod for binance passes its probes.
    selector = f"{n.feed_selector(name)},{n.LABEL_EXCHANGE}=binance"
    pod = wait_for(
        "the binance feed pod", lambda: op.core.list_namespaced_pod(ns, label_selector=selector).items
    )[0]
    op.core.patch_namespaced_pod_status(
        pod.metadata.name,
        ns,
        {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}},
    )
    wait_for(
        "the binance feed Running in the status", lambda: feed_phase(op, ns, name, "binance") == "Running", 60
    )
    assert feed_phase(op, ns, name, "kraken") == "Pending"

    # A changed symbol list reaches the feed; a removed feed goes away with its status entry.
    spec = op.pipeline(ns, name)["spec"]  # type: ignore[index]
    spec["exchanges"][0]["symbols"] = ["BTCUSDT"]
    del spec["exchanges"][1]["feed"]
    op.patch_spec(ns, name, {"exchanges": spec["exchanges"]})
    wait_until(
        "binance feed with one symbol, no kraken feed",
        lambda: op.feed_deployments(ns, name),
        lambda d: (
            set(d) == {"binance"} and "ETHUSDT" not in d["binance"].spec.template.spec.containers[0].command
        ),
    )
    wait_for(
        "kraken gone from status.feeds", lambda: set(op.status(ns, name).get("feeds") or {}) == {"binance"}
    )


def test_a_pvc_is_mounted_at_the_same_path_in_every_built_pod(
    k2_operator: OperatorProcess, op: OperatorKit
) -> None:
    ns, name = op.namespace(), "lake"
    op.apply_pipeline(ns, name, PVC_STORAGE)
    drivers = wait_until("five drivers", lambda: op.driver_pods(ns, name), lambda pods: len(pods) == 5)
    feeds = wait_until("two feeds", lambda: op.feed_deployments(ns, name), lambda d: len(d) == 2)
    found: dict[str, tuple[str, str] | None] = {}
    for job, pod in drivers.items():
        spec = op.cluster.api_client.sanitize_for_serialization(pod.spec)
        found[f"driver {job}"] = storage_mount(spec["containers"], spec.get("volumes") or [])
        config = op.core.read_namespaced_config_map(f"{name}-{job}-config", ns)
        template = yaml.safe_load(config.data["executor-pod-template.yaml"])["spec"]
        found[f"executor {job}"] = storage_mount(template["containers"], template.get("volumes") or [])
    for exchange, deployment in feeds.items():
        spec = op.cluster.api_client.sanitize_for_serialization(deployment.spec.template.spec)
        found[f"feed {exchange}"] = storage_mount(spec["containers"], spec.get("volumes") or [])
    assert len(found) == 12
    assert found == dict.fromkeys(found, ("/data", "k2-data"))
