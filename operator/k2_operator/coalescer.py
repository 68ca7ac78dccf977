"""One reconciliation per pipeline at a time, without queuing bursts of triggers."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Coalescer:
    """Runs one reconciliation per key at a time. A trigger arriving while one runs makes it run once
    more afterwards instead of queuing (a burst of pod events costs at most two reconciliations)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._running: set[tuple[str, str]] = set()
        self._again: set[tuple[str, str]] = set()

    def run(self, key: tuple[str, str], fn: Callable[[], None]) -> bool:
        """False when another thread is running ``key`` (it will run ``fn``'s work again)."""
        with self._guard:
            if key in self._running:
                self._again.add(key)
                return False
            self._running.add(key)
        try:
            while True:
                fn()
                with self._guard:  # checked and released under one lock: no trigger is lost
                    if key not in self._again:
                        self._running.discard(key)
                        return True
                    self._again.discard(key)
        except BaseException:
            with self._guard:
                self._running.discard(key)
                self._again.discard(key)
            raise
