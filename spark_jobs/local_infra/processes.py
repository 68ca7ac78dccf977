"""Background server processes tracked by a pid file: start detached, check, stop by pid.

A pid file can outlive its process and the kernel can hand the pid to something else, so a pid
only counts as ours when its command line still contains the server's work dir.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from spark_jobs.local_infra.class_archive import WRITE_SECONDS, ClassArchive


class ServerProcess:
    """One server process: its pid file, log file and the marker that identifies its command line."""

    def __init__(self, name: str, pid_file: Path, log_file: Path, marker: str) -> None:
        self.name = name
        self.pid_file = pid_file
        self.log_file = log_file
        self.marker = marker
        self._child: subprocess.Popen[bytes] | None = None
        #: The class-data archive the running JVM maps or writes (see class_archive.py), if any.
        self.class_archive: ClassArchive | None = None
        #: Whether the last stop() saw the process end on SIGTERM, before any SIGKILL.
        self.ended_on_sigterm = False

    def launch(
        self,
        command: Sequence[str],
        env: dict[str, str] | None = None,
        class_archive: ClassArchive | None = None,
    ) -> int:
        """Start the command in its own session (so a Ctrl-C in a test run does not hit it). With a
        class archive, the command is a JVM (``command[0]`` is java) that maps the archive, or writes it
        as it exits; stop() then waits for the writing and keeps the file only if the JVM ended by itself."""
        self.class_archive = class_archive
        if class_archive is not None:
            command = [command[0], *class_archive.java_options(), *command[1:]]
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self._child = subprocess.Popen(
                list(command),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )
        self.pid_file.write_text(f"{self._child.pid}\n")
        return self._child.pid

    def recorded_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def running_pid(self) -> int | None:
        """The pid from the pid file if that process is alive and is this server, else None. A process
        this object launched is known by its pid: its command line can read empty for a moment after the
        start (seen with a JVM mapping its class archive), and a stop then must not miss it."""
        pid = self.recorded_pid()
        if pid is None or not pid_alive(pid):
            return None
        if self._child is not None and self._child.pid == pid:
            return pid  # launched by this object and not reaped, so the pid cannot be another's
        if self.marker not in command_line(pid):
            return None
        return pid

    def clear_stale_pid_file(self) -> str | None:
        """Remove a pid file whose process is gone (or is another program); say what was removed."""
        pid = self.recorded_pid()
        if pid is None or self.running_pid() is not None:
            return None
        self.pid_file.unlink(missing_ok=True)
        return f"{self.name}: removed stale pid file {self.pid_file} (pid {pid} is not running this server)"

    def exited(self) -> int | None:
        """Exit code if the process this object launched has ended, else None."""
        return None if self._child is None else self._child.poll()

    def stop(self, timeout: float) -> bool:
        """SIGTERM, wait up to `timeout` (longer while the JVM writes its class archive), then SIGKILL.
        Returns True if a process was stopped."""
        pid = self.running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        archive, self.class_archive = self.class_archive, None
        if archive is not None and not archive.exists:
            timeout += WRITE_SECONDS
        os.kill(pid, signal.SIGTERM)
        self.ended_on_sigterm = self._wait_gone(pid, timeout)
        if not self.ended_on_sigterm:
            os.kill(pid, signal.SIGKILL)
            self._wait_gone(pid, 10.0)
        self.pid_file.unlink(missing_ok=True)
        self._child = None
        if archive is not None:
            archive.adopt(exited_by_itself=self.ended_on_sigterm)
        return True

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log file)"

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._child is not None and self._child.pid == pid:
                self._child.poll()  # reaps our own child, so it does not linger as a zombie
            if not pid_alive(pid):
                return True
            time.sleep(0.1)
        return not pid_alive(pid)


def pid_alive(pid: int) -> bool:
    """True for a running process; a zombie (exited, not yet reaped) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X")


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (from /proc/<pid>/status), 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except FileNotFoundError:
        pass
    return 0


class ManagedServer:
    """What the local servers (Kafka broker, schema registry) share: a ServerProcess and its files."""

    process: ServerProcess

    @property
    def pid_file(self) -> Path:
        return self.process.pid_file

    @property
    def log_file(self) -> Path:
        return self.process.log_file

    @property
    def pid(self) -> int | None:
        return self.process.running_pid()

    def rss_bytes(self) -> int:
        pid = self.pid
        return rss_bytes(pid) if pid else 0
