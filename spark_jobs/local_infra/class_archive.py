"""Class-data archives (JDK CDS) for the JVMs ``k2 local`` starts: the Spark driver, the broker, the registry.

A JVM spends its first seconds loading, verifying and linking classes. On two cores, with three JVMs
starting one after the other, the archives took the first Bronze row of ``k2 local`` from 44 s to 32 s.
The first run of a JVM writes an archive of the classes it loaded when it exits
(``-XX:ArchiveClassesAtExit``); later runs map that file (``-XX:SharedArchiveFile``) instead.

An archive is named by a hash of what it was made from (the java binary, the jars on the class path with
their sizes and times, the JVM flags), so an upgrade makes a new one, which replaces the older ones of its
kind; a JVM that still finds an archive it cannot use ignores it (``-Xshare:auto``, the default) and
starts as before. The JVM writes to a file of its own, and the file takes the archive's name only after
that JVM has exited by itself: a JVM killed while writing leaves no half archive.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

#: Where archives live: one file per JVM kind and hash, a few hundred MiB in all (Spark's is ~220 MiB).
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "k2" / "jvm-class-archives"
#: Turns the archives off (the bench measures with and without): K2_CLASS_ARCHIVES=off.
SWITCH_ENV = "K2_CLASS_ARCHIVES"
#: A JVM writing its archive needs this much longer to exit (Spark's: ~220 MiB).
WRITE_SECONDS = 60.0


#: The JVM lists every class it leaves out of an archive (hundreds of lines, on standard output, into the
#: console of `k2 local`); an archive it cannot use is simply not used, so nothing in them needs a reader.
QUIET = "-Xlog:cds*=off"


def archives_enabled() -> bool:
    return os.environ.get(SWITCH_ENV, "on").strip().lower() not in ("off", "0", "false", "no")


def class_path_files(class_path: Iterable[str | Path]) -> list[Path]:
    """The files of a class path whose entries may end in ``/*`` (all jars of a folder), in order."""
    files: list[Path] = []
    for entry in class_path:
        text = str(entry)
        if text.endswith("*"):
            files.extend(Path(p) for p in sorted(glob.glob(text + ".jar")) + sorted(glob.glob(text + ".JAR")))
        else:
            files.append(Path(text))
    return files


def fingerprint(java: str | Path, class_path: Iterable[str | Path], jvm_flags: Sequence[str]) -> str:
    """A hash of everything an archive depends on: the java binary, each class path file (name, size,
    modification time, as the JVM itself checks them) and the flags."""
    digest = hashlib.sha256()
    for path in [Path(java).resolve(), *class_path_files(class_path)]:
        stat = path.stat()
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    digest.update("\0".join(jvm_flags).encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class ClassArchive:
    """The archive of one kind of JVM (``name``) made from one set of inputs (``key``)."""

    name: str
    key: str
    cache_dir: Path = DEFAULT_CACHE_DIR
    #: The file this run's JVM writes to when there is no archive yet (unique per run).
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @classmethod
    def for_jvm(
        cls,
        name: str,
        java: str | Path,
        class_path: Iterable[str | Path],
        jvm_flags: Sequence[str] = (),
        cache_dir: Path | None = None,
    ) -> ClassArchive | None:
        """The archive for this JVM, or None when archives are switched off."""
        if not archives_enabled():
            return None
        return cls(name, fingerprint(java, class_path, jvm_flags), cache_dir or DEFAULT_CACHE_DIR)

    @property
    def path(self) -> Path:
        return self.cache_dir / f"{self.name}-{self.key}.jsa"

    @property
    def pending(self) -> Path:
        return self.cache_dir / f"{self.name}-{self.key}.{self.token}.writing"

    @property
    def exists(self) -> bool:
        return self.path.is_file()

    def java_options(self) -> list[str]:
        """Map the archive if there is one, else write one when the JVM exits."""
        if self.exists:
            return [f"-XX:SharedArchiveFile={self.path}", QUIET]
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        return [f"-XX:ArchiveClassesAtExit={self.pending}", QUIET]

    def adopt(self, exited_by_itself: bool) -> bool:
        """After the JVM ended: give the file it wrote the archive's name if it exited by itself (a JVM
        that was killed may have left half a file, which is deleted). True if an archive was adopted."""
        if not self.pending.is_file():
            return False
        if not exited_by_itself or self.exists:
            self.pending.unlink(missing_ok=True)
            return False
        os.replace(self.pending, self.path)
        for older in self.cache_dir.glob(f"{self.name}-*.jsa"):  # made from jars or a java no longer used
            if older != self.path:
                older.unlink(missing_ok=True)
        log.info("class archive written", extra={"archive": str(self.path)})
        return True
