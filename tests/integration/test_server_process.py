"""ServerProcess with real processes: which pid counts as the server's, and stop by pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from spark_jobs.local_infra.processes import ServerProcess, pid_alive

pytestmark = pytest.mark.integration

#: A process that runs until it is signalled; its command line holds whatever marker a test passes.
WAITER = [sys.executable, "-c", "import sys, time; time.sleep(600)"]


def kill_if_alive(pid: int) -> None:
    """A failed test must not leave its process behind (it runs in its own session)."""
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)


def server(tmp_path: Path, marker: str) -> ServerProcess:
    return ServerProcess("waiter", tmp_path / "w.pid", tmp_path / "w.log", marker=marker)


def test_a_process_it_launched_is_stopped_even_when_its_command_line_lacks_the_marker(tmp_path: Path) -> None:
    """The command line of a JVM that maps its class archive can read empty just after the start; a
    stop at that moment must still find it, or the server would outlive `k2 local`."""
    process = server(tmp_path, marker="not in the command line")
    pid = process.launch(WAITER)
    try:
        assert process.running_pid() == pid
        assert process.stop(timeout=10)
        assert not pid_alive(pid) and not process.pid_file.exists()
    finally:
        kill_if_alive(pid)


def test_a_pid_file_naming_another_program_is_not_the_server(tmp_path: Path) -> None:
    """A pid file left by an earlier run can name a pid the kernel gave to another program: that
    program is not stopped, the stale file is removed."""
    other = subprocess.Popen(WAITER)
    try:
        process = server(tmp_path, marker=str(tmp_path))
        process.pid_file.write_text(f"{other.pid}\n")
        assert process.running_pid() is None
        assert process.clear_stale_pid_file() is not None
        assert not process.stop(timeout=1)
        assert other.poll() is None and not process.pid_file.exists()
    finally:
        other.kill()
        other.wait(10)


def test_its_own_server_from_an_earlier_run_is_found_by_the_marker(tmp_path: Path) -> None:
    first = server(tmp_path, marker=str(tmp_path))
    pid = first.launch([*WAITER, str(tmp_path)])  # the marker is in the command line
    try:
        later = server(tmp_path, marker=str(tmp_path))  # a new object, as in the next `k2 local`
        assert later.running_pid() == pid
        assert later.stop(timeout=10)
        first.exited()  # reap
        assert not pid_alive(pid)
    finally:
        kill_if_alive(pid)
