"""Where a foreachBatch's seconds go: named steps timed back to back, logged with the batch's
"batch committed" line (``steps``) so a slow batch shows which part was slow (hack/bench_pipeline.py
reads them for its per-batch profile)."""

from __future__ import annotations

import time


class StepTimer:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self._mark = self.started
        self.steps: dict[str, float] = {}

    def lap(self, step: str) -> None:
        """Charge the time since the previous lap (or the start) to ``step``."""
        now = time.monotonic()
        self.steps[step] = round(self.steps.get(step, 0.0) + now - self._mark, 3)
        self._mark = now

    def total(self) -> float:
        return round(time.monotonic() - self.started, 3)
