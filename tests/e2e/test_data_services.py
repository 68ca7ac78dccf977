"""Kafka and the schema registry in pods, reached the way the pipeline's pods reach them: by Service
name through CoreDNS and kube-proxy. The job image's `k2 feed` replays the recorded trades into both
raw topics from a pod; it exits 0 only when the broker acknowledged every trade and the registry
holds the schemas."""

from __future__ import annotations

import json

import pytest
import yaml

from spark_jobs.contracts import EXCHANGES
from spark_jobs.feeds.sources.replay import SAMPLES_DIR
from tests.e2e.conftest import KAFKA_BOOTSTRAP, NAMESPACE, REGISTRY_URL, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def feed_job(image: str) -> str:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "replay-once", "namespace": NAMESPACE},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 185},
                    "containers": [
                        {
                            "name": "feed",
                            "image": image,
                            "imagePullPolicy": "Never",
                            "args": [
                                "k2",
                                "feed",
                                "--source",
                                "replay",
                                "--speed",
                                "0",
                                "--loops",
                                "1",
                                "--bootstrap-servers",
                                KAFKA_BOOTSTRAP,
                                "--registry-url",
                                REGISTRY_URL,
                            ],
                            "resources": {
                                "requests": {"cpu": "50m", "memory": "256Mi"},
                                "limits": {"memory": "512Mi"},
                            },
                        }
                    ],
                }
            },
        },
    }
    return yaml.safe_dump(job)


def test_a_pod_replays_trades_into_kafka_through_cluster_dns(data_services):
    cluster = data_services.cluster
    cluster.kubectl("apply", "-f", "-", input=feed_job(data_services.images.refs["streaming"]))

    def finished() -> str | None:
        job = json.loads(cluster.kubectl("get", "job", "replay-once", "-n", NAMESPACE, "-o", "json"))
        for condition in job.get("status", {}).get("conditions", []):
            if condition["type"] in ("Complete", "Failed") and condition["status"] == "True":
                return str(condition["type"])
        return None

    outcome = wait_until("the replay Job to finish", finished, timeout=300, interval=3)
    logs = cluster.kubectl("logs", "job/replay-once", "-n", NAMESPACE, check=False)
    assert outcome == "Complete", logs[-3000:]
    manifest = json.loads((SAMPLES_DIR / "manifest.json").read_text())
    # `k2 feed` ends by printing its stats as an indented JSON document on stdout ("{" ... "}" lines).
    # kubectl logs interleaves stderr: its "feed stopped" log line may land after the closing "}".
    lines = logs.splitlines()
    start = max(i for i, line in enumerate(lines) if line == "{")
    end = next(i for i in range(start, len(lines)) if lines[i] == "}")
    stats = json.loads("\n".join(lines[start : end + 1]))
    produced = {exchange: stats["exchanges"][exchange]["produced"] for exchange in EXCHANGES}
    print(f"\n[e2e] the feed pod produced {produced} trades")
    for exchange in EXCHANGES:
        assert produced[exchange] == manifest[exchange]["trades"], logs[-3000:]
        assert stats["exchanges"][exchange]["delivery_errors"] == 0
