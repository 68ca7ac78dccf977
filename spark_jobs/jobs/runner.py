"""Start jobs as streaming queries of a Spark session, with their metrics wired in.

``start_jobs`` is shared by the single-job entrypoint (a Kubernetes driver: one job per
application) and the local runner (five jobs in one application); the job code is the same.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQuery

from spark_jobs.job_config import JobConfig
from spark_jobs.jobs.bronze_job import start_bronze
from spark_jobs.jobs.gold_job import start_gold
from spark_jobs.jobs.listener import MetricsListener
from spark_jobs.jobs.silver_job import start_silver
from spark_jobs.jobs.table_maintenance import COMPACTION_CONF, VacuumSchedule
from spark_jobs.logging_setup import job_logger
from spark_jobs.metrics import JobMetrics, spark_prometheus_conf


@dataclass
class RunningJob:
    config: JobConfig
    metrics: JobMetrics
    query: StreamingQuery
    listener: MetricsListener
    metrics_port: int | None  # the port actually bound (config.metrics_port 0 picks a free one)
    vacuum: VacuumSchedule | None = None


def session_conf(config: JobConfig) -> dict[str, str]:
    """Spark settings of a job's application: Spark's Prometheus servlet, Delta's compaction of small
    files (jobs/table_maintenance.py), then the config's own ``spark_conf`` (S3A credentials
    providers, endpoints, executor sizing...), which wins."""
    return {**spark_prometheus_conf(), **COMPACTION_CONF, **config.spark_conf}


def start_query(spark: SparkSession, config: JobConfig, metrics: JobMetrics) -> StreamingQuery:
    # Each query gets its own FAIR pool (used when spark.scheduler.mode=FAIR, i.e. locally), so
    # five queries in one application share the cores instead of queueing behind each other.
    spark.sparkContext.setLocalProperty("spark.scheduler.pool", config.job_name)
    if config.layer == "bronze":
        return start_bronze(spark, config)
    if config.layer == "silver":
        return start_silver(spark, config, metrics)
    return start_gold(spark, config, metrics)


def start_jobs(
    spark: SparkSession, configs: Sequence[JobConfig], *, serve_metrics: bool = True
) -> list[RunningJob]:
    """Start each job's metrics endpoint and query, in the given order (upstream first is best)."""
    metrics = {c.job_name: JobMetrics(c.job_name, c.layer, c.exchange) for c in configs}
    listener = MetricsListener(metrics)
    spark.streams.addListener(listener)
    running = []
    for config in configs:
        job_metrics = metrics[config.job_name]
        port = job_metrics.serve(config.metrics_port, config.metrics_bind_address) if serve_metrics else None
        query = start_query(spark, config, job_metrics)
        job_logger(config.job_name, config.layer, config.exchange).info(
            "query started",
            extra={
                "query_id": str(query.id),
                "checkpoint": config.checkpoint_uri,
                "port": config.metrics_port,
            },
        )
        vacuum = VacuumSchedule(spark, config).start()
        running.append(RunningJob(config, job_metrics, query, listener, port, vacuum))
    return running


#: How long a stop waits for the running micro-batch to end: a cluster driver has 30 s from SIGTERM.
BATCH_END_WAIT_SECONDS = 15.0


def stop_between_batches(query: StreamingQuery, wait: float = BATCH_END_WAIT_SECONDS) -> None:
    """Stop a query once no micro-batch runs (waiting at most ``wait`` seconds). A stop interrupts the
    running batch; inside the Python foreachBatch function Spark then tells a stop from a failure by
    matching the long Py4J error text with a regular expression, which overflows the stream thread's
    stack: the query died with a StackOverflowError instead of stopping. (The batch was not committed
    either way, so the next run repeated it; nothing was lost.)"""
    deadline = time.monotonic() + wait
    while query.isActive and query.status["isTriggerActive"] and time.monotonic() < deadline:
        time.sleep(0.1)
    query.stop()


def stop_jobs(spark: SparkSession, jobs: Sequence[RunningJob]) -> None:
    """Stop the queries and detach their listener (a session can outlive its jobs, e.g. in tests)."""
    for job in jobs:
        if job.vacuum is not None:
            job.vacuum.stop()
        stop_between_batches(job.query)
    for listener in {id(job.listener): job.listener for job in jobs}.values():
        spark.streams.removeListener(listener)
