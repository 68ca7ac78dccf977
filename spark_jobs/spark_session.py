"""The one SparkSession factory: tests, the local runner and cluster drivers all build sessions here.

Jars arrive through ``spark.jars`` from a folder filled by ``hack/fetch-spark-jars.sh`` (or baked into
the image and named by ``K2_SPARK_JARS_DIR``); there is no Ivy resolution and no
``spark.jars.packages``, so a session starts offline and the jar set is exactly what the repo pins.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from pyspark.sql import SparkSession

from spark_jobs.jvm_options import with_jvm_options

REPO_ROOT = Path(__file__).resolve().parent.parent
FETCH_JARS_SCRIPT = REPO_ROOT / "hack" / "fetch-spark-jars.sh"

#: Spark's own metrics (PrometheusServlet, JMX) are namespaced by this instead of the per-run app id,
#: so dashboards keep working across restarts.
METRICS_NAMESPACE = "k2"

#: Settings that make Spark quick on a 2-core machine, for local masters only: a cluster driver takes
#: its shuffle partitions from the operator's plan (spark-submit --conf), which these would override.
#: Delta's default of 50 snapshot partitions makes every table read take 10-30 s here.
SMALL_MACHINE_CONF: dict[str, str] = {
    "spark.sql.shuffle.partitions": "2",
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.streaming.stateStore.maintenanceInterval": "10s",
}


def spark_jars_dir() -> Path:
    """Folder holding the Kafka/Avro/Delta jars (fetched on first use when running from the repo)."""
    configured = os.environ.get("K2_SPARK_JARS_DIR")
    if configured:
        return Path(configured)
    out = subprocess.run([str(FETCH_JARS_SCRIPT)], check=True, capture_output=True, text=True).stdout.strip()
    return Path(out.splitlines()[-1])


def spark_jars() -> list[str]:
    jars = sorted(str(p) for p in spark_jars_dir().glob("*.jar"))
    if not jars:
        raise RuntimeError(f"no jars in {spark_jars_dir()}: run hack/fetch-spark-jars.sh")
    return jars


def base_conf(app_name: str) -> dict[str, str]:
    """Configuration every K2 session carries, whatever the master."""
    return {
        "spark.app.name": app_name,
        "spark.jars": ",".join(spark_jars()),
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.metrics.namespace": METRICS_NAMESPACE,
        "spark.sql.session.timeZone": "UTC",
    }


def build_spark_session(
    app_name: str,
    *,
    master: str | None = "local[2]",
    small_machine: bool | None = None,
    driver_memory: str = "1g",
    extra_conf: Mapping[str, str] | None = None,
) -> SparkSession:
    """Build (or return the active) SparkSession with jars, Delta and K2's fixed settings.

    ``master=None`` leaves the master to spark-submit (cluster drivers). ``small_machine`` (default:
    whether the master is local) adds SMALL_MACHINE_CONF.
    """
    if small_machine is None:
        small_machine = master is not None and master.startswith("local")
    if master is not None and master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    conf: dict[str, str] = base_conf(app_name)
    if small_machine:
        conf.update(SMALL_MACHINE_CONF)
    if master is not None:
        conf["spark.master"] = master
        conf["spark.driver.memory"] = driver_memory
        conf["spark.driver.bindAddress"] = "127.0.0.1"
        conf["spark.driver.host"] = "127.0.0.1"
    conf.update(extra_conf or {})
    if master is not None:
        # The driver JVM starts with this session, so its flags can still be set here; a cluster
        # driver was started by spark-submit, whose command the operator gives the same flags.
        conf.update(with_jvm_options(conf))
    builder = SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
