"""``python -m spark_jobs.jobs --job bronze|silver|gold [--exchange binance|kraken] --config FILE``:
run one streaming job until it stops. This is what a Kubernetes driver pod runs.

The config file is JobConfig YAML (the operator renders it into the driver's ConfigMap); K2_*
environment variables override single fields (see ``JobConfig.with_env_overrides``). The Spark master
comes from ``spark_conf["spark.master"]`` (set by the operator) or defaults to local mode.
Exit status: 0 after a clean stop (SIGTERM/SIGINT or an availableNow trigger finishing), 1 when the
query failed, so the pod restarts and resumes from its checkpoint. Before a failed exit the reason
(``checkpoint_write_failed`` or ``batch_failed``) goes to the container's termination message
(K2_TERMINATION_LOG, default /dev/termination-log when it exists), where the operator reads it and
counts the failure: the driver's own metrics die with it.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from spark_jobs.contracts import (
    EXCHANGES,
    LAYERS,
    TERMINATION_BATCH_FAILED,
    TERMINATION_CHECKPOINT_WRITE_FAILED,
)
from spark_jobs.job_config import JobConfig
from spark_jobs.logging_setup import configure_json_logging, job_logger


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m spark_jobs.jobs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--job", required=True, choices=LAYERS, help="layer to run")
    parser.add_argument("--exchange", choices=EXCHANGES, help="bronze and silver only")
    parser.add_argument("--config", required=True, help="JobConfig YAML file")
    return parser.parse_args(argv)


def load_config(args: argparse.Namespace) -> JobConfig:
    config = JobConfig.from_yaml_file(args.config).with_env_overrides()
    if config.layer != args.job or config.exchange != args.exchange:
        raise SystemExit(
            f"--job {args.job} --exchange {args.exchange} does not match the config "
            f"({config.layer}, {config.exchange})"
        )
    return config


def termination_reason(error_text: str) -> str:
    from spark_jobs.metrics import is_checkpoint_failure

    return (
        TERMINATION_CHECKPOINT_WRITE_FAILED if is_checkpoint_failure(error_text) else TERMINATION_BATCH_FAILED
    )


def write_termination_message(reason: str, detail: str) -> Path | None:
    """The reason on the first line (what the operator reads), then the start of the error."""
    configured = os.environ.get("K2_TERMINATION_LOG")
    path = Path(configured) if configured else Path("/dev/termination-log")
    if not configured and not path.exists():
        return None  # not in a pod
    try:
        path.write_text(f"{reason}\n{detail[:2000]}\n")
    except OSError:
        return None
    return path


def driver_conf(config: JobConfig, in_pod: bool) -> dict[str, str]:
    """The settings this driver's SparkSession builder adds. In a pod, spark-submit already applied the
    config's ``spark_conf`` (the user's sparkConf, beneath the operator's own keys): applying it again
    here would put the user's values back over the operator's, so only K2's defaults for keys the
    user left alone are added."""
    from spark_jobs.jobs.runner import session_conf

    conf = session_conf(config)
    if in_pod:
        conf = {key: value for key, value in conf.items() if key not in config.spark_conf}
    return conf


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_json_logging()
    config = load_config(args)
    log = job_logger(config.job_name, config.layer, config.exchange)

    # Heavy imports after argument parsing: `--help` stays instant.
    from pyspark.errors import StreamingQueryException

    from spark_jobs.jobs.runner import start_jobs, stop_between_batches
    from spark_jobs.spark_session import build_spark_session

    in_pod = "spark.master" in config.spark_conf
    spark = build_spark_session(
        f"k2-{config.job_name}", master=None if in_pod else "local[2]", extra_conf=driver_conf(config, in_pod)
    )
    spark.sparkContext.setLogLevel("WARN")
    (job,) = start_jobs(spark, [config])
    from spark_jobs.jobs.pod_progress import PodProgressReporter

    progress = PodProgressReporter.from_env()  # on Kubernetes: the query's progress on the driver's pod

    stop_requested: list[str] = []

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        # Only a flag here: the stop itself runs on the main loop, outside the signal handler.
        stop_requested.append(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        while not stop_requested and not job.query.awaitTermination(2):
            if progress is not None:
                progress.observe(job.query.lastProgress)
        if stop_requested:
            log.info("stopping on signal", extra={"signal": stop_requested[0]})
            stop_between_batches(job.query)
        job.query.awaitTermination()
    except StreamingQueryException as error:
        reason = termination_reason(str(error))
        log.error("query failed", extra={"error": str(error)[:4000], "reason": reason})
        write_termination_message(reason, str(error))
        return 1
    finally:
        spark.stop()
    log.info("query stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
