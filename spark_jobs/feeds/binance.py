"""Binance trade stream: the combined-stream wire format and its parser.

A combined stream (`/stream?streams=btcusdt@trade/ethusdt@trade`) wraps each event as
`{"stream": "btcusdt@trade", "data": {"e": "trade", "E": ..., "s": "BTCUSDT", "t": ..., "p": "...",
"q": "...", "T": ..., "m": true, "M": true}}`. Each event is one trade -> one BinanceRawTrade.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from spark_jobs.feeds.parsing import FeedParseError, ParsedMessage, decimal_text, load_json, require

EXCHANGE = "binance"
LIVE_URL = "wss://stream.binance.com:9443"
DEFAULT_SYMBOLS: tuple[str, ...] = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT")


def stream_url(symbols: Sequence[str], base_url: str = LIVE_URL) -> str:
    """Combined trade stream for the symbols; the streams are in the URL, so no subscribe message."""
    streams = "/".join(f"{symbol.lower()}@trade" for symbol in symbols)
    return f"{base_url.rstrip('/')}/stream?streams={streams}"


def subscribe_messages(symbols: Sequence[str]) -> list[dict[str, Any]]:
    return []


def parse_message(text: str, ingestion_micros: int) -> ParsedMessage:
    """The trade in a combined-stream message; none for control messages (subscription replies).
    A message is one trade, so a bad trade is a bad message: FeedParseError."""
    payload = load_json(text)
    if not isinstance(payload, dict):
        raise FeedParseError("message is not a JSON object")
    if "data" not in payload:
        if "result" in payload or "id" in payload:
            return ParsedMessage([])  # reply to a SUBSCRIBE/LIST request
        raise FeedParseError("no 'data' in a combined-stream message")
    data = payload["data"]
    if not isinstance(data, dict):
        raise FeedParseError("'data' is not an object")
    event_type = require(data, "e", str, "binance event")
    if event_type != "trade":
        raise FeedParseError(f"unexpected event type {event_type!r} on a trade stream")
    trade = {
        "event_type": event_type,
        "event_time_ms": require(data, "E", int, "binance trade"),
        "symbol": require(data, "s", str, "binance trade"),
        "trade_id": require(data, "t", int, "binance trade"),
        "price": decimal_text(require(data, "p", str, "binance trade"), "binance price"),
        "quantity": decimal_text(require(data, "q", str, "binance trade"), "binance quantity"),
        "trade_time_ms": require(data, "T", int, "binance trade"),
        "is_buyer_maker": require(data, "m", bool, "binance trade"),
        "ingestion_timestamp": ingestion_micros,
    }
    return ParsedMessage([trade])


def wire_message(trade: dict[str, Any]) -> str:
    """A BinanceRawTrade as Binance sends it on a combined stream (used by the synthetic source)."""
    data = {
        "e": trade["event_type"],
        "E": trade["event_time_ms"],
        "s": trade["symbol"],
        "t": trade["trade_id"],
        "p": trade["price"],
        "q": trade["quantity"],
        "T": trade["trade_time_ms"],
        "m": trade["is_buyer_maker"],
        "M": True,
    }
    return json.dumps({"stream": f"{trade['symbol'].lower()}@trade", "data": data}, separators=(",", ":"))
