"""JVM flags of every K2 driver and executor, shared by the session factory (local runs) and the
operator (spark-submit in a driver pod). Kept free of pyspark so the operator can import it."""

from __future__ import annotations

from collections.abc import Mapping

#: JVM flags of every K2 driver and executor. The Silver plan compiles to Java methods above HotSpot's
#: 8,000-byte limit, which the JVM otherwise never JIT-compiles: they run interpreted, and Silver's
#: decode-and-validate pass took 1.6x as long here (200k Binance rows: 3.9 s against 2.4 s).
JVM_OPTIONS = "-XX:-DontCompileHugeMethods"
JVM_OPTION_KEYS = ("spark.driver.extraJavaOptions", "spark.executor.extraJavaOptions")


def with_jvm_options(conf: Mapping[str, str]) -> dict[str, str]:
    """The JVM option settings of ``conf`` with K2's flags appended (a user's own flags are kept)."""
    return {key: " ".join(filter(None, [conf.get(key, "").strip(), JVM_OPTIONS])) for key in JVM_OPTION_KEYS}
