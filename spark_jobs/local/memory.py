"""Resident memory of every process of the local run, for the live view and the summary."""

from __future__ import annotations

import os

from spark_jobs.local_infra.processes import rss_bytes


def memory_by_process(pids: dict[str, int | None]) -> dict[str, int]:
    """{process name: RSS bytes} for the given pids (gone or unknown pids count 0)."""
    return {name: rss_bytes(pid) if pid else 0 for name, pid in pids.items()}


def python_driver_pid() -> int:
    return os.getpid()


def format_mib(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:,.0f} MiB"
