"""The five streaming jobs (bronze-binance, bronze-kraken, silver-binance, silver-kraken, gold) behind one
entrypoint, ``python -m spark_jobs.jobs --job bronze|silver|gold [--exchange ...] --config FILE``.

The same code runs everywhere: a Kubernetes driver pod runs one job per Spark application; the local
runner (``k2 local``) starts all five as queries of ONE Spark application (five JVMs do not fit two
cores). Each module here is one concern: the per-layer queries, the registry lookup, table bootstrap,
the metrics listener, and the runner that ties them together.
"""
