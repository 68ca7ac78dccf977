"""What every exchange parser shares: the error type and strict JSON loading.

Prices and quantities must stay exact decimal text, so JSON numbers are parsed as Decimal, never
float (a float would turn Kraken's 0.1 into 0.1000000000000000055...).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

_DECODER = json.JSONDecoder(parse_float=Decimal)  # one decoder: json.loads(parse_float=) builds one per call


class FeedParseError(ValueError):
    """A message that is not what the exchange documents: counted, logged, and produced with its
    text and this reason to the rejected-frames topic (so it reaches the DLQ)."""


@dataclass(frozen=True)
class ParsedMessage:
    """What one message holds: its good trades, and a reason per trade of it that could not be
    parsed (one bad trade of a multi-trade message does not cost its siblings). No trades and no
    rejects: a control message."""

    trades: list[dict[str, Any]]
    rejected: list[str] = field(default_factory=list)


def load_json(text: str) -> Any:
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise FeedParseError(f"not JSON: {exc.msg} at char {exc.pos}") from None


def require(payload: dict[str, Any], key: str, kinds: type | tuple[type, ...], where: str) -> Any:
    """payload[key] if present and of the expected JSON type (bool is not accepted as a number)."""
    if key not in payload:
        raise FeedParseError(f"{where}: missing field {key!r}")
    value = payload[key]
    if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
        raise FeedParseError(f"{where}: field {key!r} is a boolean")
    if not isinstance(value, kinds):
        raise FeedParseError(f"{where}: field {key!r} has type {type(value).__name__}")
    return value


def decimal_text(value: Any, where: str) -> str:
    """Exact decimal text of a JSON number or numeric string ('43000.10' stays '43000.10')."""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise FeedParseError(f"{where}: not a number: {value!r}")
    try:
        # A JSON number is written in plain notation: str(Decimal('0.0000001')) would be '1E-7',
        # which Silver's strict decimal syntax rejects.
        text = format(value, "f") if isinstance(value, Decimal) else str(value)
        Decimal(text)
    except (ArithmeticError, ValueError):
        raise FeedParseError(f"{where}: not a number: {value!r}") from None
    return text
