"""The real Kafka 4 broker (KRaft) from the project's own files: lifecycle and topics."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from spark_jobs.contracts import RAW_TOPICS
from spark_jobs.local_infra.__main__ import main as local_infra_command
from spark_jobs.local_infra.kafka_broker import KafkaBroker
from spark_jobs.local_infra.ports import LOOPBACK, free_port
from spark_jobs.local_infra.processes import pid_alive

pytestmark = pytest.mark.integration


def _dead_pid() -> int:
    """A pid that belonged to a process which has exited (what a crash leaves in a pid file)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_broker_start_stop_restart_are_idempotent_and_keep_topics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broker = KafkaBroker(tmp_path / "kafka", port=free_port(), controller_port=free_port())
    try:
        broker.start()
        first_pid = broker.pid
        assert first_pid is not None and pid_alive(first_pid)
        assert broker.pid_file.read_text().strip() == str(first_pid)
        assert broker.log_file.stat().st_size > 0

        broker.start()  # already running: same process, no second JVM
        assert broker.pid == first_pid

        broker.create_topics(["restart.check"], partitions=2)
        assert broker.stop() is True
        assert not pid_alive(first_pid)
        assert not broker.pid_file.exists()
        assert broker.stop() is False  # nothing left to stop

        # a crash leaves a pid file behind; start says so, clears it and starts anyway
        broker.pid_file.write_text(f"{_dead_pid()}\n")
        broker.start()
        assert broker.pid not in (None, first_pid)
        assert broker.topic_partitions()["restart.check"] == 2  # storage survived the restart

        # the hand-run command (hack/start-kafka.sh) finds the same broker by its work dir
        command = ["--what", "kafka", "--dir", str(tmp_path), "--kafka-port", str(broker.port)]
        assert local_infra_command(["status", *command]) == 0
        assert f"running, pid {broker.pid}" in capsys.readouterr().out
        assert local_infra_command(["stop", *command]) == 0
        assert "KafkaBroker: stopped" in capsys.readouterr().out
        assert broker.pid is None
    finally:
        broker.stop()


def test_occupied_port_fails_with_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind((LOOPBACK, 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        broker = KafkaBroker(tmp_path / "kafka", port=taken, controller_port=free_port())
        with pytest.raises(RuntimeError, match=rf"already in use.*port={taken}"):
            broker.start()
    assert not broker.pid_file.exists()


def test_raw_topics_are_created_with_the_configured_partition_count(
    kafka_broker: KafkaBroker, create_topics: Callable[..., list[str]]
) -> None:
    kafka_broker.create_topics(RAW_TOPICS.values())  # default partition count
    kafka_broker.create_topics(RAW_TOPICS.values())  # again: existing topics are fine
    (wider,) = create_topics("k2.partitions", partitions=5)

    partitions = kafka_broker.topic_partitions()
    assert {partitions[topic] for topic in RAW_TOPICS.values()} == {3}
    assert partitions[wider] == 5
