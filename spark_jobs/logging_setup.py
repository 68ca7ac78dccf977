"""Structured JSON logs: one object per line with time, level, logger, message and, where they apply,
job, exchange, layer and batch_id, so a log pipeline can filter a job's batch without regexes.

Use :func:`configure_json_logging` once per process and :func:`job_logger` per job; pass
``extra={"batch_id": n}`` (or any other field) on a call to add fields to that line.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import IO, Any

#: Fields lifted from a record's ``extra`` into the JSON object, in this order.
CONTEXT_FIELDS: tuple[str, ...] = ("job", "exchange", "layer", "batch_id")

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in CONTEXT_FIELDS:
            if key in record.__dict__:
                entry[key] = record.__dict__[key]
        for key, value in record.__dict__.items():
            if key not in _RESERVED and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_json_logging(level: int | str = logging.INFO, stream: IO[str] | None = None) -> None:
    """Send the root logger's output as JSON lines to ``stream`` (stderr by default).

    Idempotent: a second call replaces K2's handler rather than adding another.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_k2_json", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler._k2_json = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # py4j logs every gateway call at INFO; that drowns the job's own lines.
    logging.getLogger("py4j").setLevel(logging.WARNING)


class JobLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger that stamps job, exchange and layer on every line; call-site ``extra`` adds more."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        kwargs["extra"] = {**(self.extra or {}), **kwargs.get("extra", {})}
        return msg, kwargs


def job_logger(job: str, layer: str, exchange: str | None, name: str = "k2.jobs") -> JobLogger:
    return JobLogger(logging.getLogger(name), {"job": job, "exchange": exchange or "all", "layer": layer})
