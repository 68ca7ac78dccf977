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
