"""Class-data archives with a real JVM: the first run writes one, the next maps it, a killed writer
leaves nothing behind, and a changed class path or java gets a new archive."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from spark_jobs.local_infra.class_archive import SWITCH_ENV, WRITE_SECONDS, ClassArchive, fingerprint
from spark_jobs.local_infra.installs import kafka_home
from spark_jobs.local_infra.java import default_java
from spark_jobs.local_infra.processes import ServerProcess, command_line, pid_alive

pytestmark = pytest.mark.integration

#: A Kafka tool that loads a few hundred of Kafka's classes and exits with 0.
TOOL = "org.apache.kafka.tools.TopicCommand"


def run_tool(java: str, class_path: str, options: list[str]) -> subprocess.CompletedProcess[str]:
    command = [java, *options, "-Xlog:class+load=info", "-cp", class_path, TOOL, "--version"]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def kafka_classes(output: str) -> tuple[int, int]:
    """(Kafka classes the JVM took from the dynamic (top) archive, Kafka classes it loaded in all)."""
    loaded = [line for line in output.splitlines() if "[class,load] org.apache.kafka" in line]
    return sum(1 for line in loaded if "shared objects file (top)" in line), len(loaded)


@pytest.fixture
def kafka_class_path() -> str:
    return f"{kafka_home() / 'libs'}/*"


def test_the_first_run_writes_the_archive_and_the_next_maps_kafkas_classes_from_it(
    tmp_path: Path, kafka_class_path: str
) -> None:
    java = default_java(17)
    archive = ClassArchive.for_jvm("tool", java, [kafka_class_path], [], cache_dir=tmp_path)
    assert archive is not None and not archive.exists
    first = run_tool(java, kafka_class_path, archive.java_options())
    assert first.returncode == 0, first.stderr
    assert kafka_classes(first.stdout)[0] == 0
    # Writing, the JVM would list the classes it leaves out on standard output (k2 local's console).
    assert "[cds]" not in first.stdout + first.stderr
    assert archive.adopt(exited_by_itself=True)
    assert archive.exists and not archive.pending.exists()

    again = ClassArchive.for_jvm("tool", java, [kafka_class_path], [], cache_dir=tmp_path)
    assert again is not None and again.path == archive.path
    assert again.java_options()[0] == f"-XX:SharedArchiveFile={archive.path}"
    second = run_tool(java, kafka_class_path, [*again.java_options(), "-Xshare:on"])
    assert second.returncode == 0, second.stderr
    shared, loaded = kafka_classes(second.stdout)
    assert loaded > 50 and shared >= 0.9 * loaded, (shared, loaded)


def test_a_writer_that_did_not_exit_by_itself_leaves_no_archive(
    tmp_path: Path, kafka_class_path: str
) -> None:
    java = default_java(17)
    archive = ClassArchive.for_jvm("tool", java, [kafka_class_path], [], cache_dir=tmp_path)
    assert archive is not None
    assert run_tool(java, kafka_class_path, archive.java_options()).returncode == 0
    assert archive.pending.is_file()
    assert not archive.adopt(exited_by_itself=False)
    assert not archive.exists and not archive.pending.exists()
    assert list(tmp_path.iterdir()) == []


def test_the_archive_name_follows_the_class_path_the_java_and_the_flags(tmp_path: Path) -> None:
    java = default_java(17)
    jars = tmp_path / "jars"
    jars.mkdir()
    (jars / "a.jar").write_bytes(b"one")
    before = fingerprint(java, [f"{jars}/*"], ["-Xmx1g"])
    assert fingerprint(java, [f"{jars}/*"], ["-Xmx1g"]) == before
    assert fingerprint(java, [f"{jars}/*"], ["-Xmx2g"]) != before
    (jars / "b.jar").write_bytes(b"two")  # a jar more
    with_b = fingerprint(java, [f"{jars}/*"], ["-Xmx1g"])
    assert with_b != before
    (jars / "b.jar").write_bytes(b"three")  # a jar replaced
    assert fingerprint(java, [f"{jars}/*"], ["-Xmx1g"]) != with_b
    other_java = tmp_path / "java"
    other_java.write_bytes(b"not the same binary")
    assert fingerprint(other_java, [f"{jars}/*"], ["-Xmx1g"]) != fingerprint(java, [f"{jars}/*"], ["-Xmx1g"])


def test_archives_can_be_switched_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SWITCH_ENV, "off")
    assert ClassArchive.for_jvm("tool", default_java(17), [], [], cache_dir=tmp_path) is None


def test_a_new_archive_replaces_the_older_ones_of_its_kind(tmp_path: Path) -> None:
    old = ClassArchive("tool", "0000", cache_dir=tmp_path)
    other_kind = ClassArchive("other", "0000", cache_dir=tmp_path)
    for archive in (old, other_kind):
        archive.pending.write_bytes(b"archive")
        assert archive.adopt(exited_by_itself=True)
    new = ClassArchive("tool", "1111", cache_dir=tmp_path)
    new.pending.write_bytes(b"archive")
    assert new.adopt(exited_by_itself=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other-0000.jsa", "tool-1111.jsa"]


def waiting_jvm(tmp_path: Path) -> list[str]:
    """A JVM that runs until it is signalled (the JDK's source launcher: no build step)."""
    source = tmp_path / "Wait.java"
    source.write_text("public class Wait { public static void main(String[] a) throws Exception "
                      "{ Thread.sleep(600_000); } }\n")  # fmt: skip
    return [default_java(17), "-Xshare:auto", str(source)]


def started_command_line(pid: int) -> str:
    """The command line of a process just started (it reads empty for a moment while the JVM maps its
    archive)."""
    deadline = time.monotonic() + 10
    while not (line := command_line(pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return line


def test_a_server_stopped_by_sigterm_keeps_the_archive_it_wrote_and_maps_it_next_time(tmp_path: Path) -> None:
    """The path the broker and the registry take: ServerProcess launches the JVM with an archive, stop()
    lets it write as it exits and adopts the file; the next launch maps it."""
    command = waiting_jvm(tmp_path)
    server = ServerProcess("waiter", tmp_path / "w.pid", tmp_path / "w.log", marker=str(tmp_path))
    archive = ClassArchive("waiter", "0001", cache_dir=tmp_path / "archives")
    pid = server.launch(command, class_archive=archive)
    assert f"-XX:ArchiveClassesAtExit={archive.pending}" in started_command_line(pid)
    time.sleep(3)  # past the JVM's start, so SIGTERM runs its exit hooks
    assert server.stop(timeout=30)
    assert server.ended_on_sigterm and archive.exists and not archive.pending.exists()

    pid = server.launch(command, class_archive=archive)
    assert f"-XX:SharedArchiveFile={archive.path}" in started_command_line(pid)
    assert server.stop(timeout=30)
    assert archive.exists


def test_a_server_that_had_to_be_killed_leaves_no_archive(tmp_path: Path) -> None:
    command = waiting_jvm(tmp_path)
    server = ServerProcess("waiter", tmp_path / "w.pid", tmp_path / "w.log", marker=str(tmp_path))
    archive = ClassArchive("waiter", "0002", cache_dir=tmp_path / "archives")
    pid = server.launch(command, class_archive=archive)
    time.sleep(3)
    archive.pending.write_bytes(b"half an archive")  # what a JVM killed while writing leaves
    os.kill(pid, signal.SIGSTOP)  # so SIGTERM cannot end it and stop() must SIGKILL
    try:
        assert server.stop(timeout=1 - WRITE_SECONDS)
    finally:
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    assert not server.ended_on_sigterm
    assert not archive.exists and not archive.pending.exists()
