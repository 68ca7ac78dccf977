"""Replay recorded exchange messages (spark_jobs/feeds/samples/<exchange>.jsonl) in their exact
wire format, at the original pace or faster.

A recording is JSON lines `{"offset_seconds": 0.123, "raw": "<the message text as received>"}`; the
raw text is kept as a string so malformed messages can be recorded and replayed too.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO

from spark_jobs.feeds.sources import Received, now_micros

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "samples"


def sample_path(exchange: str) -> Path:
    return SAMPLES_DIR / f"{exchange}.jsonl"


def read_recording(path: Path) -> list[tuple[float, str]]:
    """(offset in seconds from the first message, raw text) per recorded message."""
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            entries.append((float(entry["offset_seconds"]), str(entry["raw"])))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a recording line ({exc})") from None
    return entries


class RecordingWriter:
    """Writes received messages as a recording (the format above), one flushed line each, so a
    capture stopped by Ctrl-C keeps everything up to its last message. `k2 feed --record DIR`."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: IO[str] = path.open("a", buffering=1)
        self._first_micros: int | None = None

    def write(self, message: Received) -> None:
        if self._first_micros is None:
            self._first_micros = message.at_micros
        offset = (message.at_micros - self._first_micros) / 1_000_000
        self._file.write(json.dumps({"offset_seconds": round(offset, 6), "raw": message.text}) + "\n")

    def close(self) -> None:
        self._file.close()


def recording_files(path: Path, exchanges: list[str]) -> dict[str, Path]:
    """exchange -> recording: a folder holds `<exchange>.jsonl` files (as the samples folder and
    `--record` write them); a single file is the recording of the one exchange asked for."""
    if path.is_dir():
        found = {e: path / f"{e}.jsonl" for e in exchanges if (path / f"{e}.jsonl").exists()}
        if not found:
            raise ValueError(f"{path} holds none of {[f'{e}.jsonl' for e in exchanges]}")
        return found
    if not path.exists():
        raise ValueError(f"recording {path} does not exist")
    if len(exchanges) != 1:
        raise ValueError(f"{path} is one recording: name its exchange (--exchange, or EXCHANGE=PATH)")
    read_recording(path)  # fail now, with the line number, rather than mid-run
    return {exchanges[0]: path}


async def replay_messages(path: Path, speed: float = 1.0, loops: int = 1) -> AsyncIterator[Received]:
    """The recording's messages; `speed` 1 keeps the original gaps, 10 is ten times faster, 0 is
    as fast as possible. `loops` > 1 plays it again (0 = forever)."""
    entries = read_recording(path)
    played = 0
    while loops == 0 or played < loops:
        started = time.monotonic()
        for offset, raw in entries:
            if speed > 0:
                delay = started + offset / speed - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)  # let the producer's delivery reports and signals run
            yield Received(raw, now_micros())
        played += 1
