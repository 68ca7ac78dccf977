"""The two exchanges' feed handlers behind one interface, so live, replay and synthetic sources
share the same parse -> produce path."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from spark_jobs.feeds import binance, kraken
from spark_jobs.feeds.parsing import ParsedMessage


@dataclass(frozen=True)
class ExchangeHandler:
    exchange: str
    live_url: str
    default_symbols: tuple[str, ...]
    #: (raw text, ingestion time in epoch micros) -> raw trade records and rejected trades; raises
    #: FeedParseError for a message that cannot be parsed at all
    parse_message: Callable[[str, int], ParsedMessage]
    stream_url: Callable[[Sequence[str], str], str]
    subscribe_messages: Callable[[Sequence[str]], list[dict[str, Any]]]


HANDLERS: dict[str, ExchangeHandler] = {
    module.EXCHANGE: ExchangeHandler(
        exchange=module.EXCHANGE,
        live_url=module.LIVE_URL,
        default_symbols=module.DEFAULT_SYMBOLS,
        parse_message=module.parse_message,
        stream_url=module.stream_url,
        subscribe_messages=module.subscribe_messages,
    )
    for module in (binance, kraken)
}


def handler_for(exchange: str) -> ExchangeHandler:
    try:
        return HANDLERS[exchange]
    except KeyError:
        raise ValueError(f"unknown exchange {exchange!r}; known: {', '.join(HANDLERS)}") from None
