"""The one SparkSession factory: tests, the local runner and cluster drivers all build sessions here.

The Kafka/Avro/Delta jars the repo pins reach Spark one of two ways, never through Ivy or
``spark.jars.packages`` (a session starts offline, with exactly the pinned jar set):

- in the job image they sit in pyspark's own ``jars/`` folder, so they are on the JVM classpath from the
  start (a driver started by spark-submit needs that: ``spark.jars`` set in the builder would arrive
  after its JVM started), and nothing is added;
- elsewhere (tests, ``k2 local``) through ``spark.jars`` from ``K2_SPARK_JARS_DIR``, or, in a source
  checkout, from the folder ``hack/fetch-spark-jars.sh`` fills.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyspark
from pyspark import SparkContext
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


def pyspark_jars_dir() -> Path:
    """Spark's own jars folder, its classpath: ``$SPARK_HOME/jars`` (spark-submit sets SPARK_HOME, and
    its Python then imports pyspark from a zip inside it), else the installed pyspark's."""
    home = os.environ.get("SPARK_HOME")
    return (Path(home) if home else Path(pyspark.__file__).resolve().parent) / "jars"


def jars_on_classpath(jars_dir: Path | None = None) -> bool:
    """True where K2's jars were installed into Spark's own jars folder (the job image)."""
    return any((jars_dir or pyspark_jars_dir()).glob("delta-spark_*.jar"))


def spark_jars_dir() -> Path:
    """Folder holding the Kafka/Avro/Delta jars: ``K2_SPARK_JARS_DIR``, else (in a source checkout only)
    the folder hack/fetch-spark-jars.sh fills. An installed K2 never runs the repo's scripts."""
    configured = os.environ.get("K2_SPARK_JARS_DIR")
    if configured:
        return Path(configured)
    if not FETCH_JARS_SCRIPT.is_file():
        raise RuntimeError(
            f"K2's Spark jars are neither in Spark's jars folder ({pyspark_jars_dir()}) nor named by "
            "K2_SPARK_JARS_DIR (the job image has them in the former)"
        )
    out = subprocess.run([str(FETCH_JARS_SCRIPT)], check=True, capture_output=True, text=True).stdout.strip()
    return Path(out.splitlines()[-1])


def spark_jars() -> list[str]:
    """The jars to pass as ``spark.jars``: none where they are already on the classpath."""
    if jars_on_classpath():
        return []
    jars = sorted(str(p) for p in spark_jars_dir().glob("*.jar"))
    if not jars:
        raise RuntimeError(f"no jars in {spark_jars_dir()}: run hack/fetch-spark-jars.sh")
    return jars


def base_conf(app_name: str) -> dict[str, str]:
    """Configuration every K2 session carries, whatever the master."""
    jars = spark_jars()
    return {
        "spark.app.name": app_name,
        **({"spark.jars": ",".join(jars)} if jars else {}),
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.metrics.namespace": METRICS_NAMESPACE,
        "spark.sql.session.timeZone": "UTC",
    }


#: What spark-submit already decided for a driver it started (the operator's command): the builder
#: must not set these again. The name is --name; jars set now would arrive after the JVM started.
SUBMIT_OWNED_KEYS = ("spark.app.name", "spark.jars")


def build_spark_session(
    app_name: str,
    *,
    master: str | None = "local[2]",
    small_machine: bool | None = None,
    driver_memory: str = "1g",
    extra_conf: Mapping[str, str] | None = None,
) -> SparkSession:
    """Build (or return the active) SparkSession with jars, Delta and K2's fixed settings.

    ``master=None`` leaves the master to spark-submit (cluster drivers), and with it the application
    name and the jars (``SUBMIT_OWNED_KEYS``). ``small_machine`` (default: whether the master is
    local) adds SMALL_MACHINE_CONF.
    """
    if small_machine is None:
        small_machine = master is not None and master.startswith("local")
    if master is not None and master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    conf: dict[str, str] = base_conf(app_name)
    if master is None:
        conf = {key: value for key, value in conf.items() if key not in SUBMIT_OWNED_KEYS}
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


def end_driver_jvm(gateway: Any, timeout: float) -> bool:
    """End the driver JVM pyspark started (after ``SparkSession.stop()``): it exits when its standard
    input closes. True if it exited by itself with status 0 within ``timeout`` seconds."""
    process = getattr(gateway, "proc", None)
    if process is None or process.stdin is None:
        return False
    gateway.shutdown()
    SparkContext._gateway = None  # a later session must start a JVM of its own
    SparkContext._jvm = None
    process.stdin.close()
    try:
        return bool(process.wait(timeout) == 0)
    except subprocess.TimeoutExpired:
        return False
