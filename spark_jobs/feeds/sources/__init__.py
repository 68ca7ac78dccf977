"""Where exchange messages come from: live websockets, a recorded replay, or synthetic trades.

Every source is an async iterator of `Received` (the raw text as the exchange sends it, and when it
arrived), so all three feed the same parse -> produce path.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Received:
    text: str
    at_micros: int  # epoch microseconds: becomes the records' ingestion_timestamp


def now_micros() -> int:
    return time.time_ns() // 1000


SOURCES = ("live", "replay", "synthetic")
