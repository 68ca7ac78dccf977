"""When a driver writes its progress annotation (spark_jobs.jobs.pod_progress): only after the query
progressed, at most once per interval. The write itself (HTTP PATCH with the driver's token, and the
RBAC that limits it to the pipeline's driver pods) is tested against the real API server in
tests/operator/test_operator_health.py."""

from __future__ import annotations

import pytest

from spark_jobs.jobs.pod_progress import PodProgressReporter, rfc3339

pytestmark = pytest.mark.unit


class Recording(PodProgressReporter):
    """Records what it would write instead of sending it (no API server in the unit tier)."""

    def __init__(self) -> None:
        super().__init__("https://api", "ns", "p-gold-driver", "k2.dev/last-progress", interval_seconds=30)
        self.written: list[float] = []

    def write(self, progress_at: float) -> None:
        self.written.append(progress_at)


def batch(n: int) -> dict[str, object]:
    return {"id": "q", "runId": "r", "batchId": n, "timestamp": f"t{n}"}


def test_writes_only_new_progress_at_most_once_per_interval() -> None:
    reporter = Recording()
    assert not reporter.observe(None, now=0.0)  # no progress yet: nothing to say
    assert reporter.observe(batch(1), now=1.0)
    assert reporter.written == [1.0]
    assert not reporter.observe(batch(2), now=10.0)  # within the interval
    assert not reporter.observe(batch(2), now=20.0)
    assert reporter.observe(batch(2), now=31.0)  # batch 2 was first seen at 10.0
    assert reporter.written == [1.0, 10.0]
    assert not reporter.observe(batch(2), now=100.0)  # no new batch: nothing new to write


def test_from_env_needs_the_pod_identity_and_the_in_cluster_api() -> None:
    assert PodProgressReporter.from_env({}) is None
    env = {
        "K2_POD_NAME": "p-gold-driver",
        "K2_POD_NAMESPACE": "k2",
        "K2_PROGRESS_ANNOTATION": "k2.dev/last-progress",
        "K2_PROGRESS_REPORT_SECONDS": "30",
        "KUBERNETES_SERVICE_HOST": "10.0.0.1",
        "KUBERNETES_SERVICE_PORT": "443",
    }
    reporter = PodProgressReporter.from_env(env)
    assert reporter is not None
    assert (reporter.api_url, reporter.pod, reporter.interval_seconds) == (
        "https://10.0.0.1:443",
        "p-gold-driver",
        30,
    )
    assert rfc3339(0) == "1970-01-01T00:00:00Z"
