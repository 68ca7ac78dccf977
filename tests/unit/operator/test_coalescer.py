"""The per-pipeline coalescer: one reconciliation at a time, a trigger during one causes one re-run."""

from __future__ import annotations

import threading

import pytest
from k2_operator.coalescer import Coalescer

pytestmark = pytest.mark.unit


def test_a_trigger_during_a_run_causes_exactly_one_more_run() -> None:
    coalescer = Coalescer()
    started, release = threading.Event(), threading.Event()
    runs: list[int] = []

    def slow() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            started.set()
            release.wait(5)

    worker = threading.Thread(target=lambda: coalescer.run(("ns", "p"), slow))
    worker.start()
    started.wait(5)
    assert coalescer.run(("ns", "p"), slow) is False
    assert coalescer.run(("ns", "p"), slow) is False
    release.set()
    worker.join(5)
    assert runs == [0, 1]
    assert coalescer.run(("ns", "p"), slow) is True
    assert runs == [0, 1, 2]


def test_different_pipelines_do_not_wait_for_each_other_and_errors_release_the_key() -> None:
    coalescer = Coalescer()

    def boom() -> None:
        raise RuntimeError("api down")

    with pytest.raises(RuntimeError):
        coalescer.run(("ns", "a"), boom)
    calls: list[str] = []
    assert coalescer.run(("ns", "a"), lambda: calls.append("a")) is True
    assert coalescer.run(("ns", "b"), lambda: calls.append("b")) is True
    assert calls == ["a", "b"]
