"""Print the fuzz tier's figures (records checked per property, outcomes) after the run."""

from __future__ import annotations

import sys
from typing import Any


def pytest_terminal_summary(terminalreporter: Any) -> None:
    module = sys.modules.get("tests.fuzz.test_silver_fuzz")
    for line in module.summary_lines() if module is not None else []:
        terminalreporter.write_line(line)
