"""Class-data archives with a real JVM: the first run writes one, the next maps it, a killed writer
leaves nothing behind, and a changed class path or java gets a new archive."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from spark_jobs.local_infra.class_archive import SWITCH_ENV, ClassArchive, fingerprint
from spark_jobs.local_infra.installs import kafka_home
from spark_jobs.local_infra.java import default_java

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
