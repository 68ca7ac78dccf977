"""A real single-node Apache Kafka 4 broker in KRaft combined mode (broker + controller in one JVM).

    broker = KafkaBroker(work_dir, port=19092, controller_port=19093)
    broker.start()                      # formats storage once, waits for a metadata request
    broker.create_topics(RAW_TOPICS.values(), partitions=3)
    broker.stop()                       # SIGTERM by pid, wait, SIGKILL

The work dir holds server.properties, log4j2.yaml, kafka.pid, kafka.log and the data (data/).
Start and stop are idempotent; a restart on the same work dir keeps topics and records.
"""

from __future__ import annotations

import base64
import logging
import subprocess
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from spark_jobs.local_infra.class_archive import ClassArchive
from spark_jobs.local_infra.installs import kafka_home
from spark_jobs.local_infra.java import default_java
from spark_jobs.local_infra.ports import LOOPBACK, require_free_ports
from spark_jobs.local_infra.processes import ManagedServer, ServerProcess

log = logging.getLogger(__name__)

LOG4J2_CONFIG = """\
Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: org.apache.kafka
        level: WARN
      - name: kafka.request.logger
        level: WARN
      # per-partition chatter (every __consumer_offsets partition on start): noise in a failure's log tail
      - name: state.change.logger
        level: WARN
      - name: kafka.cluster
        level: WARN
      - name: kafka.log
        level: WARN
"""


class KafkaBroker(ManagedServer):
    def __init__(
        self,
        work_dir: Path,
        port: int,
        controller_port: int,
        *,
        heap: str = "512m",
        start_timeout: float = 90.0,
        stop_timeout: float = 30.0,
        class_archive: bool = False,
    ) -> None:
        self.work_dir = Path(work_dir)
        self.port = port
        self.controller_port = controller_port
        self.heap = heap
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        #: Start from (or, the first time, write) a class-data archive: see class_archive.py.
        self.use_class_archive = class_archive
        self.data_dir = self.work_dir / "data"
        self.config_file = self.work_dir / "server.properties"
        self.process = ServerProcess(
            "kafka broker",
            self.work_dir / "kafka.pid",
            self.work_dir / "kafka.log",
            marker=str(self.work_dir),
        )

    @property
    def bootstrap_servers(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def start(self, wait: bool = True) -> KafkaBroker:
        """Start the broker unless it already runs; return once it answers a metadata request
        (wait=False: return at once, call wait_ready() later, e.g. to boot two servers in parallel)."""
        if self.process.running_pid() is not None:
            if wait:
                self.wait_ready()
            return self
        stale = self.process.clear_stale_pid_file()
        if stale:
            log.warning(stale)
        require_free_ports("kafka broker", port=self.port, controller_port=self.controller_port)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._write_config()
        java, classpath = default_java(17), f"{kafka_home() / 'libs'}/*"
        if not (self.data_dir / "meta.properties").exists():
            self._format_storage(java, classpath)
        flags = [f"-Xms{self.heap}", f"-Xmx{self.heap}", "-XX:+UseG1GC"]
        archive = None
        if self.use_class_archive:
            archive = ClassArchive.for_jvm("kafka-broker", java, [classpath], flags)
        self.process.launch(
            [
                java,
                *flags,
                "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={self.work_dir / 'log4j2.yaml'}",
                "-cp",
                classpath,
                "kafka.Kafka",
                str(self.config_file),
            ],
            class_archive=archive,
        )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self) -> None:
        """Block until a metadata request succeeds; a broker that never gets there is stopped."""
        try:
            self._wait_ready()
        except TimeoutError:
            self.stop()
            raise
        log.info("kafka broker ready", extra={"bootstrap_servers": self.bootstrap_servers, "pid": self.pid})

    def stop(self) -> bool:
        """Stop by pid (SIGTERM, wait, SIGKILL). Returns False when nothing was running."""
        return self.process.stop(self.stop_timeout)

    def admin(self, **conf: str | int | float) -> AdminClient:
        return AdminClient({"bootstrap.servers": self.bootstrap_servers, **conf})

    def create_topics(self, names: Iterable[str], partitions: int = 3) -> None:
        """Create topics (replication factor 1); topics that already exist are left as they are."""
        new_topics = [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in names]
        if not new_topics:
            return
        admin = self.admin()  # keep a reference: a collected client cancels its futures
        for name, future in admin.create_topics(new_topics, operation_timeout=30).items():
            try:
                future.result()
            except KafkaException as exc:
                if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                    raise RuntimeError(f"creating topic {name} failed: {exc}") from exc
        self._wait_for_topics([topic.topic for topic in new_topics])

    def _wait_for_topics(self, names: list[str], timeout: float = 30.0) -> None:
        """Creation is acknowledged before every listener's metadata has the topic: wait for it."""
        admin = self.admin()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            topics = admin.list_topics(timeout=5).topics
            if all(name in topics and topics[name].partitions for name in names):
                return
            time.sleep(0.1)
        raise TimeoutError(f"topics not in the broker's metadata after {timeout:.0f} s: {names}")

    def topic_partitions(self) -> dict[str, int]:
        """Topic -> partition count, from a metadata request."""
        metadata = self.admin().list_topics(timeout=10)
        return {name: len(topic.partitions) for name, topic in metadata.topics.items()}

    def _write_config(self) -> None:
        listeners = f"PLAINTEXT://{LOOPBACK}:{self.port},CONTROLLER://{LOOPBACK}:{self.controller_port}"
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"{LOOPBACK}:{self.controller_port}",
            "listeners": listeners,
            "advertised.listeners": listeners,
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "3",
            "auto.create.topics.enable": "false",
            # one node: every internal topic has a single replica
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # consumers in tests join at once instead of waiting 3 s for more members
            "group.initial.rebalance.delay.ms": "0",
        }
        self.config_file.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
        (self.work_dir / "log4j2.yaml").write_text(LOG4J2_CONFIG)

    def _format_storage(self, java: str, classpath: str) -> None:
        command = [
            java,
            "-Xmx256m",
            f"-Dlog4j2.configurationFile={self.work_dir / 'log4j2.yaml'}",
            "-cp",
            classpath,
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            "--cluster-id",
            new_cluster_id(),
            "--config",
            str(self.config_file),
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        with self.log_file.open("a") as out:
            out.write(result.stdout + result.stderr)
        if result.returncode != 0:
            raise RuntimeError(f"kafka storage format failed:\n{(result.stdout + result.stderr)[-2000:]}")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        # log_level 0: "connection refused" while the JVM boots is expected, not worth printing
        admin = self.admin(log_level=0)
        while time.monotonic() < deadline:
            code = self.process.exited()
            if code is not None:
                raise RuntimeError(f"kafka broker exited with {code}; log tail:\n{self.process.log_tail()}")
            try:
                if admin.list_topics(timeout=2).brokers:
                    return
            except KafkaException:
                pass
            time.sleep(0.3)
        raise TimeoutError(
            f"kafka broker not ready after {self.start_timeout:.0f} s; log tail:\n{self.process.log_tail()}"
        )


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (like Uuid.randomUuid)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not text.startswith("-"):  # Kafka's own generator rejects these too (CLI-unfriendly)
            return text
