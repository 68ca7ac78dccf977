"""The local pipeline's moving parts, started and stopped in order:
broker -> registry (+ schemas) -> topics -> bad records -> feed -> Spark with the five jobs."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import SparkSession

from spark_jobs.contracts import JOBS, RAW_TOPICS, value_subject, with_rejected_topics
from spark_jobs.job_config import DEFAULT_MAX_TRADE_AGE, REPLAY_MAX_TRADE_AGE, JobConfig
from spark_jobs.jobs.runner import RunningJob, session_conf, start_jobs, stop_between_batches
from spark_jobs.jvm_options import JVM_OPTIONS
from spark_jobs.local.bad_records import inject_bad_records
from spark_jobs.local.ports import LocalPorts
from spark_jobs.local_infra.class_archive import WRITE_SECONDS, ClassArchive
from spark_jobs.local_infra.java import default_java
from spark_jobs.local_infra.kafka_broker import KafkaBroker
from spark_jobs.local_infra.schema_registry import SchemaRegistry, register_trade_schemas
from spark_jobs.quality.runner import QualityRunner, QualitySettings
from spark_jobs.spark_session import build_spark_session, end_driver_jvm, pyspark_jars_dir, spark_jars

log = logging.getLogger("k2.local")

#: A cold first batch takes up to a minute on two cores; Ctrl-C twice still stops at once.
LOCAL_BATCH_END_WAIT_SECONDS = 60.0

#: Feed sources used on a data folder, across runs (the summary's DLQ expectation depends on them).
SOURCES_FILE = "feed_sources.json"


#: Silver's and Gold's trigger in `k2 local`.
TRIGGER = "2 seconds"
#: Bronze's: longer, because the five queries share local[2]. Committing a Bronze batch every 2 s took
#: the cores from Silver and Gold (hack/bench-pipeline.sh, issue 17: trade -> Gold p99 49.8 s at 100
#: trades/s with 2 s, 18.5 s with 10 s; 58.4 s vs 28.4 s at 2,500/s).
BRONZE_TRIGGER = "10 seconds"


@dataclass
class LocalSettings:
    data_dir: Path
    source: str  # live | replay | synthetic (already resolved from auto)
    rate: float  # trades per second per exchange (synthetic / replay speed-up)
    trigger_interval: str = TRIGGER
    bronze_trigger_interval: str = BRONZE_TRIGGER
    gold_watermark: str = "10 minutes"
    ports: LocalPorts = field(default_factory=LocalPorts)
    partitions: int = 3
    inject_bad_records: bool = True
    driver_memory: str = "1536m"
    quality_interval: float = 300.0  # seconds between quality check runs (duplicates: 12x)
    #: replay: the user's own recordings, exchange -> file (default: the bundled sample)
    replay_files: dict[str, Path] = field(default_factory=dict)

    def trigger_for(self, layer: str) -> str:
        return self.bronze_trigger_interval if layer == "bronze" else self.trigger_interval

    def with_triggers(self, every_job: str | None, bronze: str | None) -> LocalSettings:
        """`k2 local --trigger` (every job) and `--bronze-trigger`; what neither sets keeps its default."""
        return dataclasses.replace(
            self,
            trigger_interval=every_job or self.trigger_interval,
            bronze_trigger_interval=bronze or every_job or self.bronze_trigger_interval,
        )


@dataclass
class LocalPipeline:
    settings: LocalSettings
    broker: KafkaBroker | None = None
    registry: SchemaRegistry | None = None
    feed: subprocess.Popen[bytes] | None = None
    spark: SparkSession | None = None
    jobs: list[RunningJob] = field(default_factory=list)
    injected: Counter[str] = field(default_factory=Counter)
    quality: QualityRunner | None = None
    quality_stop: threading.Event = field(default_factory=threading.Event)
    quality_thread: threading.Thread | None = None
    #: The Spark driver JVM's class-data archive (None when K2_CLASS_ARCHIVES=off).
    driver_archive: ClassArchive | None = None
    started_at: float = field(default_factory=time.monotonic)

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    def tables_root(self) -> Path:
        return self.data_dir / "tables"

    # --- start ---------------------------------------------------------------------------------
    def start_infrastructure(self) -> None:
        s, ports = self.settings, self.settings.ports
        self.broker = KafkaBroker(
            self.data_dir / "kafka", ports.kafka, ports.kafka_controller, class_archive=True
        ).start()
        self.broker.create_topics(with_rejected_topics(RAW_TOPICS.values()), partitions=s.partitions)
        self.registry = SchemaRegistry(
            self.data_dir / "registry", ports.registry, ports.registry_management, class_archive=True
        ).start()
        ids = register_trade_schemas(self.registry.url)
        if s.inject_bad_records:
            binance_id = ids[value_subject(RAW_TOPICS["binance"])]
            self.injected = inject_bad_records(self.broker.bootstrap_servers, binance_id, self.data_dir)

    def sources_used(self) -> set[str]:
        """Every feed source that ever wrote into this data folder's tables (this run's included)."""
        recorded = self.data_dir / SOURCES_FILE
        earlier = set(json.loads(recorded.read_text())) if recorded.exists() else set()
        return earlier | {self.source_label}

    @property
    def source_label(self) -> str:
        return "replay (own files)" if self.settings.replay_files else self.settings.source

    def dlq_has_a_known_expectation(self) -> bool:
        """The DLQ can be compared with the injected set only when nothing else could have put rows
        there: the synthetic feed makes only valid trades; live data, the bundled sample (malformed
        frames on purpose) and a user's capture bring their own bad records."""
        return bool(self.injected) and self.sources_used() == {"synthetic"}

    def start_feed(self, duration: float | None) -> None:
        assert self.broker is not None and self.registry is not None
        (self.data_dir / SOURCES_FILE).write_text(json.dumps(sorted(self.sources_used())))
        log_file = (self.data_dir / "logs" / "feed.log").open("ab")
        command = [
            sys.executable, "-m", "spark_jobs.cli", "feed",
            "--exchange", "all",
            "--source", self.settings.source,
            "--bootstrap-servers", self.broker.bootstrap_servers,
            "--registry-url", self.registry.url,
        ]  # fmt: skip
        if self.settings.source == "synthetic":
            # A new seed per run: the same seed would repeat trade ids, which Gold rightly drops as
            # duplicates of the previous run's trades on the same day.
            command += ["--rate", str(self.settings.rate), "--seed", str(int(time.time()))]
        elif self.settings.source == "replay":
            # the bundled sample loops (a demo that keeps going); a user's own capture plays once
            command += ["--loops", "1" if self.settings.replay_files else "0"]
            for exchange, path in self.settings.replay_files.items():
                command += ["--file", f"{exchange}={path}"]
            if self.settings.replay_files:
                command += ["--exchange", ",".join(self.settings.replay_files)]
        if duration:
            command += ["--duration", str(duration)]
        self.feed = subprocess.Popen(
            command, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )

    def job_configs(self) -> list[JobConfig]:
        assert self.broker is not None and self.registry is not None
        configs = []
        for _name, layer, exchange in JOBS:
            config = JobConfig.local_default(
                layer,
                exchange,
                kafka=self.broker.bootstrap_servers,
                registry=self.registry.url,
                root=self.data_dir,
            )
            configs.append(
                JobConfig.from_dict(
                    {
                        **config.__dict__,
                        "trigger_interval": self.settings.trigger_for(layer),
                        "gold_watermark": self.settings.gold_watermark,
                        "max_trade_age": self.max_trade_age,
                        "metrics_port": self.settings.ports.metrics_port(config.job_name),
                    }
                )
            )
        return configs

    @property
    def max_trade_age(self) -> str:
        """The recorded sample is from 2024: with the replay source Silver accepts old trades,
        otherwise every replayed trade would land in the DLQ as timestamp_out_of_range."""
        return REPLAY_MAX_TRADE_AGE if self.settings.source == "replay" else DEFAULT_MAX_TRADE_AGE

    def start_spark_jobs(self) -> None:
        configs = self.job_configs()
        extra = {
            **session_conf(configs[0]),
            "spark.scheduler.mode": "FAIR",
            "spark.ui.enabled": "true",
            "spark.ui.port": str(self.settings.ports.spark_ui),
            # Five queries' state stores and Delta logs in one JVM: keep the driver lean but not starved.
            "spark.sql.streaming.minBatchesToRetain": "20",
        }
        self.driver_archive = ClassArchive.for_jvm(
            "spark-driver", default_java(17), [pyspark_jars_dir() / "*", *spark_jars()], [JVM_OPTIONS]
        )
        if self.driver_archive is not None:
            extra["spark.driver.extraJavaOptions"] = " ".join(self.driver_archive.java_options())
        self.spark = build_spark_session(
            "k2-local", master="local[2]", driver_memory=self.settings.driver_memory, extra_conf=extra
        )
        self.spark.sparkContext.setLogLevel("ERROR")
        self.jobs = start_jobs(self.spark, configs)

    def start_quality(self, metrics_port: int | None = None) -> None:
        """The data-quality checks on their schedule, in a thread of this Spark application (its own
        FAIR pool), first run one interval after the start; metrics on ``metrics_port``."""
        from spark_jobs.contracts import LOCAL_QUALITY_METRICS_PORT

        assert self.spark is not None and self.broker is not None
        configs = self.job_configs()
        settings = QualitySettings.with_interval(
            self.settings.quality_interval,
            tables_uri=configs[0].tables_uri,
            checkpoints_uri=configs[0].checkpoints_uri,
            gold_watermark=self.settings.gold_watermark,
            kafka_bootstrap_servers=self.broker.bootstrap_servers,
        )
        self.quality = QualityRunner(self.spark, settings)
        port = LOCAL_QUALITY_METRICS_PORT if metrics_port is None else metrics_port
        self.quality.metrics.serve(port, "127.0.0.1")
        spark, runner, stop = self.spark, self.quality, self.quality_stop

        def loop() -> None:
            spark.sparkContext.setLocalProperty("spark.scheduler.pool", "quality")
            runner.run_forever(stop, first_delay=self.settings.quality_interval)

        self.quality_thread = threading.Thread(target=loop, name="k2-quality", daemon=True)
        self.quality_thread.start()

    # --- watch ---------------------------------------------------------------------------------
    def failed_jobs(self) -> list[tuple[str, str]]:
        failed = []
        for job in self.jobs:
            error = job.query.exception()
            if error is not None:
                failed.append((job.config.job_name, str(error).splitlines()[0][:300]))
        return failed

    def feed_running(self) -> bool:
        return self.feed is not None and self.feed.poll() is None

    def process_pids(self) -> dict[str, int | None]:
        import os

        jvm_pid = None
        if self.spark is not None:
            jvm = self.spark.sparkContext._jvm
            assert jvm is not None
            jvm_pid = int(jvm.java.lang.ProcessHandle.current().pid())
        return {
            "spark driver JVM (5 queries)": jvm_pid,
            "python driver": os.getpid(),
            "kafka broker": self.broker.pid if self.broker else None,
            "schema registry": self.registry.pid if self.registry else None,
            "feed": self.feed.pid if self.feed_running() and self.feed else None,
        }

    def committed_rows(self) -> float:
        return sum(job.metrics.value("k2_records_processed_total") for job in self.jobs)

    def wait_until_drained(self, timeout: float) -> bool:
        """After the feed stopped: wait until every query has run a batch that found nothing new,
        with no rows committed anywhere meanwhile (so Gold holds everything the feed produced)."""
        deadline = time.monotonic() + timeout
        mark, committed = time.time(), self.committed_rows()
        while time.monotonic() < deadline:
            if self.failed_jobs():
                return False
            if all(_idle_since(job, mark) for job in self.jobs):
                if self.committed_rows() == committed:
                    return True
                mark, committed = time.time(), self.committed_rows()
            time.sleep(1)
        return False

    # --- stop ----------------------------------------------------------------------------------
    def stop_feed(self) -> None:
        if self.feed is not None and self.feed.poll() is None:
            self.feed.terminate()
            try:
                self.feed.wait(20)
            except subprocess.TimeoutExpired:
                self.feed.kill()
                self.feed.wait(10)

    def stop_jobs(self, wait: float = LOCAL_BATCH_END_WAIT_SECONDS) -> None:
        """Stop the queries, each once its running batch has ended (all within ``wait`` seconds)."""
        deadline = time.monotonic() + wait
        self.quality_stop.set()
        if self.quality_thread is not None:
            self.quality_thread.join(timeout=300)  # a check in progress finishes first
        for job in self.jobs:
            try:
                if job.vacuum is not None:
                    job.vacuum.stop()
                stop_between_batches(job.query, max(0.0, deadline - time.monotonic()))
            except Exception:  # stopping must continue with the rest
                log.exception("could not stop %s", job.config.job_name)

    def stop_all(self) -> None:
        self.stop_feed()
        self.stop_jobs(wait=0.0)  # stopped already after a drain; after a second Ctrl-C: at once
        if self.spark is not None:
            gateway = self.spark.sparkContext._gateway
            self.spark.stop()
            self.spark = None
            if self.driver_archive is not None and not self.driver_archive.exists:
                # The driver JVM writes its archive as it exits, which it otherwise does only after
                # this process has: end it now, so that the archive is whole before it is adopted.
                self.driver_archive.adopt(exited_by_itself=end_driver_jvm(gateway, WRITE_SECONDS + 30))
        if self.registry is not None:
            self.registry.stop()
        if self.broker is not None:
            self.broker.stop()


def _idle_since(job: RunningJob, since_wall_clock: float) -> bool:
    """True when the query's latest progress started after ``since`` and read no rows."""
    progress = job.query.lastProgress
    if not progress:
        return False
    from datetime import datetime

    started = datetime.fromisoformat(progress["timestamp"].replace("Z", "+00:00")).timestamp()
    return started >= since_wall_clock and int(progress.get("numInputRows", 0)) == 0


def reset_data_dir(data_dir: Path) -> None:
    if data_dir.exists():
        shutil.rmtree(data_dir)
