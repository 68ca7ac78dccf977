"""The foreachBatch writers need their query's id (for Delta's txnAppId) but get it only after
``start()`` returns, while the first batch may already be running: a tiny latch bridges that."""

from __future__ import annotations

import threading


class QueryIdLatch:
    def __init__(self, job_name: str) -> None:
        self.job_name = job_name
        self._query_id: str | None = None
        self._ready = threading.Event()

    def set(self, query_id: str) -> None:
        self._query_id = query_id
        self._ready.set()

    def app_id(self, timeout_seconds: float = 120.0) -> str:
        """``<job>-<query id>``: stable across restarts from one checkpoint, new with a new one."""
        if not self._ready.wait(timeout_seconds):
            raise RuntimeError(f"{self.job_name}: query id not set within {timeout_seconds} s")
        return f"{self.job_name}-{self._query_id}"
