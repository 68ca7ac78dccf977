"""A real schema registry: Apicurio Registry 3, used only through its Confluent-compatible API.

    registry = SchemaRegistry(work_dir, port=18081, management_port=19001)
    registry.start()                    # waits for /health/ready on the management port
    ids = register_trade_schemas(registry.url)   # {"market.crypto.trades.binance.raw-value": 1, ...}
    registry.stop()

Storage is in memory: every start is empty, so whoever starts it registers the schemas again
(identical content keeps its content id). Apicurio's default compatibility is NONE; the trade
subjects are set to BACKWARD when they are registered.
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from spark_jobs.contracts import RAW_TOPICS, value_subject
from spark_jobs.local_infra.class_archive import ClassArchive
from spark_jobs.local_infra.installs import apicurio_home
from spark_jobs.local_infra.java import find_java
from spark_jobs.local_infra.ports import LOOPBACK, require_free_ports
from spark_jobs.local_infra.processes import ManagedServer, ServerProcess
from spark_jobs.registry_client import registry_client

log = logging.getLogger(__name__)

CCOMPAT_PATH = "/apis/ccompat/v7"
COMPATIBILITY = "BACKWARD"


class SchemaRegistry(ManagedServer):
    def __init__(
        self,
        work_dir: Path,
        port: int,
        management_port: int,
        *,
        heap: str = "384m",
        start_timeout: float = 120.0,
        stop_timeout: float = 20.0,
        class_archive: bool = False,
    ) -> None:
        self.work_dir = Path(work_dir)
        self.port = port
        self.management_port = management_port
        self.heap = heap
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        #: Start from (or, the first time, write) a class-data archive: see class_archive.py.
        self.use_class_archive = class_archive
        self.process = ServerProcess(
            "schema registry",
            self.work_dir / "registry.pid",
            self.work_dir / "registry.log",
            marker=str(self.work_dir),
        )

    @property
    def url(self) -> str:
        """Base URL of the Confluent-compatible API (what SchemaRegistryClient and Spark use)."""
        return f"http://{LOOPBACK}:{self.port}{CCOMPAT_PATH}"

    @property
    def ready_url(self) -> str:
        return f"http://{LOOPBACK}:{self.management_port}/health/ready"

    def start(self, wait: bool = True) -> SchemaRegistry:
        """Start the registry unless it already runs; return once it reports ready
        (wait=False: return at once, call wait_ready() later)."""
        if self.process.running_pid() is not None:
            if wait:
                self.wait_ready()
            return self
        stale = self.process.clear_stale_pid_file()
        if stale:
            log.warning(stale)
        require_free_ports("schema registry", port=self.port, management_port=self.management_port)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        home = apicurio_home()
        java, flags = find_java(21), [f"-Xmx{self.heap}", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"]
        jar = home / "quarkus-run.jar"  # its version folder is in the path, its libraries in its manifest
        archive = None
        if self.use_class_archive:
            archive = ClassArchive.for_jvm("schema-registry", java, [jar], flags)
        self.process.launch(
            [
                java,
                *flags,
                f"-Dk2.work_dir={self.work_dir}",  # marks the process as ours (see ServerProcess)
                f"-Dquarkus.http.host={LOOPBACK}",
                f"-Dquarkus.http.port={self.port}",
                f"-Dquarkus.management.host={LOOPBACK}",
                f"-Dquarkus.management.port={self.management_port}",
                # nothing leaves the machine: no telemetry exporter
                "-Dquarkus.otel.sdk.disabled=true",
                "-jar",
                str(jar),
            ],
            class_archive=archive,
        )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self) -> None:
        """Block until /health/ready answers; a registry that never gets there is stopped."""
        try:
            self._wait_ready()
        except TimeoutError:
            self.stop()
            raise
        log.info("schema registry ready", extra={"url": self.url, "pid": self.pid})

    def stop(self) -> bool:
        """Stop by pid (SIGTERM, wait, SIGKILL). Returns False when nothing was running."""
        return self.process.stop(self.stop_timeout)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            code = self.process.exited()
            if code is not None:
                raise RuntimeError(
                    f"schema registry exited with {code}; log tail:\n{self.process.log_tail()}"
                )
            if _http_ok(self.ready_url) and _http_ok(f"{self.url}/subjects"):
                return
            time.sleep(0.3)
        waited = f"{self.start_timeout:.0f} s"
        raise TimeoutError(f"schema registry not ready after {waited}; log tail:\n{self.process.log_tail()}")


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def register_schema(client: SchemaRegistryClient, subject: str, schema_str: str) -> int:
    """Register (or find) an Avro schema under a subject with BACKWARD compatibility; return its id."""
    schema_id = client.register_schema(subject, Schema(schema_str, "AVRO"))
    client.set_compatibility(subject_name=subject, level=COMPATIBILITY)
    return int(schema_id)


def register_trade_schemas(url: str, topics: Mapping[str, str] | None = None) -> dict[str, int]:
    """Register each exchange's raw trade schema under `<topic>-value`; return {subject: schema id}.

    `topics` maps exchange -> topic (default: the contract's raw topics); tests pass unique ones.
    """
    from spark_jobs.avro_schemas import raw_schema_name, schema_json

    client = registry_client(url)
    ids: dict[str, int] = {}
    for exchange, topic in (topics or RAW_TOPICS).items():
        subject = value_subject(topic)
        ids[subject] = register_schema(client, subject, schema_json(raw_schema_name(exchange)))
    log.info("trade schemas registered (in-memory registry: done on every start)", extra={"ids": ids})
    return ids
