"""The one session factory: what every local K2 session runs with."""

from __future__ import annotations

import pytest

from spark_jobs.jvm_options import JVM_OPTIONS

pytestmark = pytest.mark.unit


def test_the_driver_jvm_runs_with_k2s_jvm_flags(spark):
    """Checked in the running JVM, not the conf: the flag only helps if the JVM was launched with it."""
    runtime = spark.sparkContext._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()
    arguments = list(runtime.getInputArguments())
    assert set(JVM_OPTIONS.split()) <= set(arguments)


def test_jars_in_sparks_own_folder_are_not_added_again(tmp_path, monkeypatch):
    """The job image: the jars are on the JVM classpath from the start, so no spark.jars at all."""
    from spark_jobs import spark_session

    jars = tmp_path / "jars"
    jars.mkdir()
    assert not spark_session.jars_on_classpath(jars)
    (jars / "delta-spark_4.2_2.13-4.4.0.jar").touch()
    assert spark_session.jars_on_classpath(jars)
    monkeypatch.setenv("SPARK_HOME", str(tmp_path))
    assert spark_session.spark_jars() == []
    assert "spark.jars" not in spark_session.base_conf("app")


def test_an_installed_k2_never_runs_the_repos_scripts(tmp_path, monkeypatch):
    from spark_jobs import spark_session

    monkeypatch.delenv("K2_SPARK_JARS_DIR", raising=False)
    monkeypatch.setenv("SPARK_HOME", str(tmp_path))  # no jars in its jars/ folder
    monkeypatch.setattr(spark_session, "FETCH_JARS_SCRIPT", tmp_path / "hack" / "fetch-spark-jars.sh")
    with pytest.raises(RuntimeError, match="K2_SPARK_JARS_DIR"):
        spark_session.spark_jars()
    monkeypatch.setenv("K2_SPARK_JARS_DIR", str(tmp_path))
    (tmp_path / "x.jar").touch()
    assert spark_session.spark_jars() == [str(tmp_path / "x.jar")]


def test_a_driver_started_by_spark_submit_keeps_the_users_and_operators_settings():
    """In a pod, spark-submit applied the user's sparkConf beneath the operator's keys; the driver's
    session builder must not set the user's values again (they would win over the operator's)."""
    from spark_jobs.job_config import JobConfig
    from spark_jobs.jobs.__main__ import driver_conf

    config = JobConfig(
        layer="gold",
        exchange=None,
        kafka_bootstrap_servers="k:9092",
        schema_registry_url="http://r",
        tables_uri="s3a://b/t",
        checkpoints_uri="s3a://b/c",
        spark_conf={"spark.master": "k8s://https://kubernetes.default.svc", "spark.ui.port": "4999"},
    )
    in_pod, local = driver_conf(config, in_pod=True), driver_conf(config, in_pod=False)
    assert local["spark.ui.port"] == "4999" and "spark.ui.port" not in in_pod
    assert "spark.master" not in in_pod
    assert in_pod and set(in_pod) == set(local) - set(config.spark_conf)
