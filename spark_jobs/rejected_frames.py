"""The rejected-frame envelope: what a feed could not turn into trades, kept instead of only logged.

A feed produces one JSON object per rejected frame (or per rejected trade of a multi-trade message)
to the raw topic's rejected-frames topic (contracts.rejected_topic):

    {"exchange": "kraken", "reason": "trade 2 of 3: missing field 'qty'",
     "raw": "<the frame's text exactly as received>", "received_at_micros": 1717425000123456}

Bronze keeps the envelope bytes untouched like any record; Silver sends every such row to the DLQ as
`unparseable_frame` with the envelope's reason (the envelope, raw text included, is the DLQ row's
raw_value). This module is the one place both sides take the field names from.
"""

from __future__ import annotations

import json
from typing import Final

EXCHANGE_FIELD: Final = "exchange"
REASON_FIELD: Final = "reason"
RAW_FIELD: Final = "raw"
RECEIVED_AT_FIELD: Final = "received_at_micros"

#: Longest raw text kept in an envelope; a longer frame is cut (and the reason says so), so one huge
#: garbage frame cannot exceed the broker's message size and be lost after all.
MAX_RAW_CHARS: Final = 500_000


def encode_rejected_frame(exchange: str, raw: str, reason: str, received_at_micros: int) -> bytes:
    if len(raw) > MAX_RAW_CHARS:
        reason = f"{reason} (raw text cut from {len(raw)} to {MAX_RAW_CHARS} characters)"
        raw = raw[:MAX_RAW_CHARS]
    envelope = {
        EXCHANGE_FIELD: exchange,
        REASON_FIELD: reason,
        RAW_FIELD: raw,
        RECEIVED_AT_FIELD: received_at_micros,
    }
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()


def decode_rejected_frame(value: bytes) -> dict[str, object]:
    """The envelope as a dict (for readers of the DLQ and tests)."""
    decoded: dict[str, object] = json.loads(value)
    return decoded
