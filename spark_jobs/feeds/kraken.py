"""Kraken websocket v2 trade channel: subscribe message, wire format and parser.

Subscribe: `{"method": "subscribe", "params": {"channel": "trade", "symbol": ["BTC/USD"]}}`.
Trades: `{"channel": "trade", "type": "snapshot"|"update", "data": [{"symbol": "BTC/USD",
"side": "buy", "price": 43000.1, "qty": 0.01, "ord_type": "market", "trade_id": 123,
"timestamp": "2023-09-25T07:49:37.708706Z"}, ...]}`. A message can carry several trades: every one
becomes a KrakenRawTrade. Heartbeats, status and subscribe acks are control messages.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from spark_jobs.feeds.parsing import FeedParseError, ParsedMessage, decimal_text, load_json, require

EXCHANGE = "kraken"
LIVE_URL = "wss://ws.kraken.com/v2"
DEFAULT_SYMBOLS: tuple[str, ...] = ("BTC/USD", "ETH/USD", "SOL/USD")
CONTROL_CHANNELS = frozenset({"heartbeat", "status", "pong"})


def stream_url(symbols: Sequence[str], base_url: str = LIVE_URL) -> str:
    return base_url


def subscribe_messages(symbols: Sequence[str]) -> list[dict[str, Any]]:
    return [{"method": "subscribe", "params": {"channel": "trade", "symbol": list(symbols)}}]


def parse_message(text: str, ingestion_micros: int) -> ParsedMessage:
    """Every trade of a trade-channel message; none for control messages. A message that is not a
    trade message of the documented shape raises FeedParseError; a bad trade inside a good message
    is rejected alone (with its position in the reason) and its siblings are kept."""
    payload = load_json(text)
    if not isinstance(payload, dict):
        raise FeedParseError("message is not a JSON object")
    if "method" in payload:
        if payload.get("success") is False:
            raise FeedParseError(f"request failed: {payload.get('error')!r}")
        return ParsedMessage([])  # subscribe/unsubscribe/ping acknowledgement
    channel = payload.get("channel")
    if channel in CONTROL_CHANNELS:
        return ParsedMessage([])
    if channel != "trade":
        raise FeedParseError(f"unexpected channel {channel!r}")
    data = require(payload, "data", list, "kraken trade message")
    if not data:
        raise FeedParseError("trade message without trades")
    trades, rejected = [], []
    for position, item in enumerate(data, start=1):
        try:
            trades.append(_trade(item, ingestion_micros))
        except FeedParseError as exc:
            trade_id = item.get("trade_id") if isinstance(item, dict) else None
            where = f"trade {position} of {len(data)}" + (f" (trade_id {trade_id})" if trade_id else "")
            rejected.append(f"{where}: {exc}")
    return ParsedMessage(trades, rejected)


def _trade(item: Any, ingestion_micros: int) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise FeedParseError("trade item is not an object")
    trade_id = item.get("trade_id")
    if trade_id is not None and (isinstance(trade_id, bool) or not isinstance(trade_id, int)):
        raise FeedParseError(f"kraken trade: trade_id {trade_id!r} is not an integer")
    return {
        "symbol": require(item, "symbol", str, "kraken trade"),
        "price": decimal_text(require(item, "price", (int, Decimal, str), "kraken trade"), "kraken price"),
        "quantity": decimal_text(require(item, "qty", (int, Decimal, str), "kraken trade"), "kraken qty"),
        "trade_time_seconds": require(item, "timestamp", str, "kraken trade"),
        "side": require(item, "side", str, "kraken trade"),
        "order_type": require(item, "ord_type", str, "kraken trade"),
        "misc": None,  # v2 has no misc field (v1 had one)
        "ingestion_timestamp": ingestion_micros,
        "trade_id": trade_id,
    }


def wire_message(trades: Sequence[dict[str, Any]], message_type: str = "update") -> str:
    """KrakenRawTrades as one v2 trade message (used by the synthetic source). Kraken sends prices
    and quantities as JSON numbers; the parser reads them back as exact decimals."""
    data = [
        {
            "symbol": trade["symbol"],
            "side": trade["side"],
            "price": float(trade["price"]),
            "qty": float(trade["quantity"]),
            "ord_type": trade["order_type"],
            "trade_id": trade["trade_id"],
            "timestamp": trade["trade_time_seconds"],
        }
        for trade in trades
    ]
    return json.dumps({"channel": "trade", "type": message_type, "data": data}, separators=(",", ":"))
