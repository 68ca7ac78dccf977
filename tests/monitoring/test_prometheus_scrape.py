"""A real Prometheus (Debian's 2.42, on 127.0.0.1) scrapes a running Silver job through the scrape
configuration the chart's PodMonitor implies, evaluates K2's alert rules (short windows via
Thresholds), and DLQThresholdExceeded stays silent below the threshold, then goes pending and firing
once bad records push the DLQ share above it.

The Silver job runs as a driver pod runs it (``python -m spark_jobs.jobs``, its own Spark with the UI
and Spark's Prometheus servlet on); Bronze runs availableNow in the test's Spark after each produce.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from k2_operator import naming as n

from monitoring.alerts import Thresholds, rule_groups
from monitoring.chart import pod_monitor_spec
from monitoring.scrape_config import LocalPod, scrape_configs
from spark_jobs.local_infra.ports import free_port
from spark_jobs.metrics import SPARK_METRIC_NAMES
from tests.fixtures.pipeline_fixtures import PipelineEnv, live_trades, now_factory, run_available_now
from tests.fixtures.processes import stop_process

pytestmark = [pytest.mark.monitoring, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
NAMESPACE, PIPELINE, JOB = "k2-test", "scraped", "silver-binance"
THRESHOLDS = Thresholds(dlq_window="2m", dlq_for="10s", interval="2s")
BAD_VALUE = (b"BTCUSDT", b"\x07not confluent avro")  # bad_magic_byte in Silver


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=10) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return list(self.get("/api/v1/query", query=expr)["result"])

    def alerts(self, name: str) -> list[dict[str, Any]]:
        return [a for a in self.get("/api/v1/alerts")["alerts"] if a["labels"]["alertname"] == name]


def wait_until(what: str, check: Callable[[], Any], timeout: float, every: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        time.sleep(every)


@pytest.fixture
def silver_driver(pipeline_env: PipelineEnv, spark) -> Iterator[LocalPod]:
    """Bronze's table with a first batch, then Silver as a driver pod runs it, as a LocalPod."""
    env = pipeline_env
    configs = env.configs()
    env.produce_trades("binance", live_trades(now_factory(1), "binance", 20))
    run_available_now(spark, configs, stages=[("bronze-binance",)])
    metrics_port, ui_port = free_port(), free_port()
    silver = dataclasses.replace(
        configs[JOB],
        trigger_interval="2 seconds",
        metrics_port=metrics_port,
        spark_conf={"spark.ui.enabled": "true", "spark.ui.port": str(ui_port)},
    )
    command = [sys.executable, "-m", "spark_jobs.jobs", "--job", "silver", "--exchange", "binance",
               "--config", str(env.write_config(silver))]  # fmt: skip
    log_path = env.root / "silver.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield LocalPod(
            name=f"{PIPELINE}-{JOB}-driver",
            namespace=NAMESPACE,
            container="driver",
            labels=n.job_labels(PIPELINE, JOB, n.COMPONENT_DRIVER),
            ports={n.METRICS_PORT_NAME: metrics_port, "spark-ui": ui_port},
        )
        assert proc.poll() is None, f"silver exited {proc.returncode}:\n{log_path.read_text()[-3000:]}"
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)  # like a pod's stop
            try:
                proc.wait(120)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)


@pytest.fixture
def prometheus(prometheus_bin: Path, silver_driver: LocalPod, tmp_path: Path) -> Iterator[Prometheus]:
    rules = tmp_path / "k2-alerts.rules.yaml"
    rules.write_text(yaml.safe_dump(rule_groups(THRESHOLDS), sort_keys=False))
    config = {
        # Spark's servlet answers slowly on a busy machine: Prometheus' default 10 s timeout.
        "global": {"scrape_interval": "10s", "scrape_timeout": "10s", "evaluation_interval": "2s"},
        "rule_files": [str(rules)],
        "scrape_configs": scrape_configs(
            "k2-spark-drivers", "k2-system", pod_monitor_spec("10s"), [silver_driver]
        ),
    }
    config_path = tmp_path / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    check = subprocess.run(
        [str(prometheus_bin / "promtool"), "check", "config", str(config_path)],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    port = free_port()
    log_path = tmp_path / "prometheus.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(prometheus_bin / "prometheus"), f"--config.file={config_path}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        server = Prometheus(f"http://127.0.0.1:{port}")
        wait_until("Prometheus ready", lambda: _ready(server.url), timeout=30, every=0.5)
        yield server
    finally:
        stop_process(proc)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def dlq_ratio(prom: Prometheus) -> float | None:
    """The alert's own expression without its comparison."""
    window = THRESHOLDS.dlq_window
    result = prom.query(
        f'sum by (exchange) (increase(k2_records_processed_total{{layer="dlq"}}[{window}])) / '
        f'sum by (exchange) (increase(k2_records_processed_total{{layer=~"silver|dlq"}}[{window}]))'
    )
    return float(result[0]["value"][1]) if result else None


def test_dlq_threshold_alert_is_silent_below_then_pending_then_firing_above(
    prometheus: Prometheus, pipeline_env: PipelineEnv, spark
) -> None:
    env, prom = pipeline_env, prometheus
    configs = env.configs()

    def bronze() -> None:
        run_available_now(spark, configs, stages=[("bronze-binance",)])

    # Every endpoint of the PodMonitor is scraped: K2's metrics and Spark's two servlet paths.
    # (Each once: on a loaded machine Spark's servlet sometimes misses a scrape's timeout.)
    up = wait_until(
        "each of the silver driver's three endpoints scraped",
        lambda: (
            (r := prom.query(f'max_over_time(up{{pod="{PIPELINE}-{JOB}-driver"}}[10m]) == 1'))
            and len(r) == 3
            and r
        ),
        timeout=300,
        every=2,
    )
    assert {r["metric"]["endpoint"] for r in up} == {n.METRICS_PORT_NAME, "spark-ui", "spark-ui-executors"}
    first_batch = 'k2_records_processed_total{layer="silver"} > 0'
    wait_until("Silver's first batch scraped", lambda: prom.query(first_batch), timeout=300, every=2)

    # The labels a cluster's Prometheus gives K2's series: ours intact, the target's added.
    series = prom.get("/api/v1/series", **{"match[]": '{__name__=~"k2_.+"}'})
    assert series, "no K2 series scraped"
    for labels in series:
        assert not any(name.startswith("exported_") for name in labels), labels
        assert (labels["namespace"], labels["pipeline"], labels["job"]) == (
            NAMESPACE, PIPELINE, "k2-system/k2-spark-drivers",
        )  # fmt: skip
        if labels["__name__"] == "k2_records_processed_total":
            assert labels["k2_job"] == JOB
    for name in SPARK_METRIC_NAMES:  # Spark's JVM and executor metrics, with the job from the pod
        found = prom.query(f'{name}{{pipeline="{PIPELINE}"}}')
        assert found, f"{name} not scraped from the spark-ui port"
        assert {r["metric"]["k2_job"] for r in found} == {JOB}

    # Below the threshold: 1% bad records. The share shows, the alert does not.
    env.produce_trades("binance", live_trades(now_factory(2), "binance", 300))
    env.produce_values("binance", [BAD_VALUE] * 3)
    bronze()
    below = wait_until(
        "a DLQ share above 0", lambda: (r := dlq_ratio(prom)) and r > 0 and r, timeout=300, every=2
    )
    assert below < float(THRESHOLDS.dlq_ratio), below
    deadline = time.monotonic() + 20  # longer than `for` plus a few evaluations
    while time.monotonic() < deadline:
        assert prom.alerts("DLQThresholdExceeded") == [], dlq_ratio(prom)
        time.sleep(1)

    # Above it: 40% bad records in the next batch. Pending first (for: 10s), then firing.
    env.produce_trades("binance", live_trades(now_factory(3), "binance", 60))
    env.produce_values("binance", [BAD_VALUE] * 40)
    bronze()
    states: list[str] = []

    def firing() -> bool:
        alerts = prom.alerts("DLQThresholdExceeded")
        for alert in alerts:
            if not states or states[-1] != alert["state"]:
                states.append(alert["state"])
        return any(a["state"] == "firing" for a in alerts)

    wait_until("DLQThresholdExceeded firing", firing, timeout=300, every=0.5)
    assert states[:2] == ["pending", "firing"], states
    (alert,) = prom.alerts("DLQThresholdExceeded")
    labels = alert["labels"]
    assert (labels["namespace"], labels["pipeline"], labels["exchange"]) == (NAMESPACE, PIPELINE, "binance")
    assert labels["severity"] == "warning"
    assert float(alert["value"]) > float(THRESHOLDS.dlq_ratio)
    assert alert["annotations"]["runbook_url"].endswith("#dlqthresholdexceeded")
