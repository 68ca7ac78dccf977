"""Feed Deployments: one per exchange with `feed`, the job image running `k2 feed` with the exchange's
symbols and topic, a liveness on the feed's /healthz, outside the core budget; and their status entry."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from k2_operator import naming as n
from k2_operator.builders import PipelineRef
from k2_operator.desired import desired_pipeline
from k2_operator.feed_deployments import feed_status
from k2_operator.pipeline_spec import PipelineSpec, PipelineSpecError

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
REF = PipelineRef("trades", "k2", "uid-1")


def example_spec(**exchange_feeds: dict[str, Any] | None) -> dict[str, Any]:
    spec: dict[str, Any] = copy.deepcopy(
        yaml.safe_load((ROOT / "examples" / "streamingpipeline.yaml").read_text())["spec"]
    )
    for exchange in spec["exchanges"]:
        if exchange["name"] in exchange_feeds:
            feed = exchange_feeds[exchange["name"]]
            if feed is None:
                exchange.pop("feed", None)
            else:
                exchange["feed"] = feed
    return spec


def feeds_of(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return desired_pipeline(REF, PipelineSpec.from_cr_spec(spec)).feeds


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (found,) = deployment["spec"]["template"]["spec"]["containers"]
    return found


def test_one_feed_deployment_per_exchange_with_a_feed() -> None:
    feeds = feeds_of(example_spec(binance={"source": "replay"}, kraken=None))
    assert set(feeds) == {"binance"}
    deployment = feeds["binance"]
    assert deployment["metadata"]["name"] == "trades-feed-binance"
    assert deployment["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == labels
    assert labels[n.LABEL_COMPONENT] == "feed" and labels[n.LABEL_EXCHANGE] == "binance"


def test_the_feed_runs_k2_feed_with_the_exchange_symbols_topic_and_source() -> None:
    spec = example_spec(kraken={"source": "synthetic", "rate": 250, "staleAfterSeconds": 45})
    spec["exchanges"][1]["topic"] = "team-a.kraken"
    feed = container(feeds_of(spec)["kraken"])
    assert feed["image"] == spec["image"]
    command = feed["command"]
    assert command[:2] == ["k2", "feed"]
    assert command[command.index("--exchange") + 1] == "kraken"
    assert command[command.index("--source") + 1] == "synthetic"
    assert command[command.index("--topic") + 1] == "team-a.kraken"
    at = command.index("--symbols") + 1
    assert command[at : at + 2] == ["BTC/USD", "ETH/USD"]
    assert command[command.index("--rate") + 1] == "250"
    assert command[command.index("--stale-after") + 1] == "45"
    env = {e["name"]: e.get("value") for e in feed["env"]}
    assert env["K2_KAFKA_BOOTSTRAP_SERVERS"] == spec["kafka"]["bootstrapServers"]
    assert env["K2_SCHEMA_REGISTRY_URL"] == spec["schemaRegistry"]["url"]
    secret_env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in feed["env"] if "valueFrom" in e}
    assert secret_env["K2_KAFKA_SASL_PASSWORD"] == {"name": "kafka-credentials", "key": "password"}


def test_replay_loops_forever_at_its_rate_as_pace() -> None:
    command = container(feeds_of(example_spec(binance={"source": "replay", "rate": 2.5}))["binance"])[
        "command"
    ]
    assert command[command.index("--speed") + 1] == "2.5"
    assert command[command.index("--loops") + 1] == "0"
    assert "--rate" not in command


def test_liveness_and_readiness_read_the_feeds_health_endpoint_on_the_metrics_port() -> None:
    feed = container(feeds_of(example_spec(binance={"source": "live"}))["binance"])
    assert feed["ports"] == [{"name": "metrics", "containerPort": n.FEED_METRICS_PORT, "protocol": "TCP"}]
    assert "--metrics-port" in feed["command"]
    assert feed["command"][feed["command"].index("--metrics-port") + 1] == str(n.FEED_METRICS_PORT)
    for probe in ("livenessProbe", "readinessProbe"):
        assert feed[probe]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert feed["securityContext"]["allowPrivilegeEscalation"] is False


def test_feeds_are_outside_the_core_budget() -> None:
    with_feeds = desired_pipeline(REF, PipelineSpec.from_cr_spec(example_spec()))
    without = desired_pipeline(REF, PipelineSpec.from_cr_spec(example_spec(binance=None, kraken=None)))
    assert with_feeds.plan == without.plan
    assert with_feeds.jobs.keys() == without.jobs.keys()
    assert without.feeds == {}
    resources = container(with_feeds.feeds["binance"])["resources"]
    assert resources["limits"] == {"cpu": "500m", "memory": "512Mi"}


def test_suspending_scales_feeds_to_zero_and_changes_their_hash() -> None:
    spec = example_spec()
    running = feeds_of(spec)["binance"]
    suspended = feeds_of(spec | {"suspend": True})["binance"]
    assert suspended["spec"]["replicas"] == 0
    annotation = n.ANNOTATION_SPEC_HASH
    assert running["metadata"]["annotations"][annotation] != suspended["metadata"]["annotations"][annotation]


def test_a_symbol_change_changes_only_that_feeds_hash() -> None:
    before = feeds_of(example_spec())
    spec = example_spec()
    spec["exchanges"][0]["symbols"] = ["BTCUSDT"]
    after = feeds_of(spec)
    hashes = {
        ex: (before[ex]["metadata"]["annotations"], after[ex]["metadata"]["annotations"]) for ex in before
    }
    assert hashes["binance"][0] != hashes["binance"][1]
    assert hashes["kraken"][0] == hashes["kraken"][1]


def test_an_unknown_feed_source_is_rejected_naming_the_field() -> None:
    with pytest.raises(PipelineSpecError) as error:
        PipelineSpec.from_cr_spec(example_spec(kraken={"source": "carrier-pigeon"}))
    assert error.value.path == "spec.exchanges[1].feed.source"


@pytest.mark.parametrize(
    ("deployment", "suspended", "old_phase", "phase"),
    [
        (None, False, None, "Pending"),
        ({"status": {"readyReplicas": 1}}, False, "Pending", "Running"),
        ({"status": {}}, False, "Running", "Unavailable"),
        ({"status": {}}, False, "Pending", "Pending"),
        ({"status": {"readyReplicas": 1}}, True, "Running", "Suspended"),
    ],
)
def test_feed_status_phase(
    deployment: dict[str, Any] | None, suspended: bool, old_phase: str | None, phase: str
) -> None:
    old = {"phase": old_phase} if old_phase else None
    assert feed_status(deployment, "live", suspended, old)["phase"] == phase


def test_feed_status_carries_the_deployments_failing_conditions() -> None:
    deployment = {
        "metadata": {"name": "trades-feed-kraken"},
        "status": {
            "conditions": [
                {
                    "type": "Available",
                    "status": "False",
                    "message": "Deployment does not have minimum availability.",
                },
                {"type": "Progressing", "status": "True", "message": "ok"},
            ]
        },
    }
    status = feed_status(deployment, "replay", False, None)
    assert status["deployment"] == "trades-feed-kraken"
    assert status["message"] == "Available: Deployment does not have minimum availability."
    assert status["readyReplicas"] == 0
