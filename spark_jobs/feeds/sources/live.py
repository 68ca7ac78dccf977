"""A websocket client that stays connected: reconnect with exponential backoff and jitter, a
no-message watchdog (a silent connection is dropped and redialled), and websocket ping/pong.

The client yields raw message text; cancelling the consuming task closes the connection cleanly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, WebSocketException

from spark_jobs.feeds.sources import Received, now_micros

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReconnectPolicy:
    initial_backoff: float = 1.0
    max_backoff: float = 60.0
    #: no message for this long (trades or heartbeats) -> the connection is dead: redial
    watchdog_seconds: float = 30.0
    ping_interval: float | None = 20.0
    ping_timeout: float | None = 20.0
    open_timeout: float = 10.0
    #: how long a closing handshake may take before the socket is just dropped
    close_timeout: float = 5.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Exponential backoff with jitter: in [d/2, d] where d = initial * 2**attempt, capped."""
        ceiling = min(self.max_backoff, self.initial_backoff * 2**attempt)
        return rng.uniform(ceiling / 2, ceiling)


@dataclass
class ConnectionStats:
    connects: int = 0
    disconnects: int = 0
    watchdog_timeouts: int = 0
    backoff_delays: list[float] = field(default_factory=list)


async def websocket_messages(
    url: str,
    subscribe: Sequence[dict[str, Any]] = (),
    *,
    exchange: str = "",
    policy: ReconnectPolicy | None = None,
    stats: ConnectionStats | None = None,
    rng: random.Random | None = None,
) -> AsyncGenerator[Received, None]:
    """Messages from `url`, forever: connect, send the subscribe messages, read; on any failure
    wait a backoff delay and reconnect. The backoff resets once a connection delivers a message."""
    policy = policy or ReconnectPolicy()
    stats = stats if stats is not None else ConnectionStats()
    rng = rng or random.Random()
    attempt = 0
    while True:
        try:
            async with connect(
                url,
                open_timeout=policy.open_timeout,
                ping_interval=policy.ping_interval,
                ping_timeout=policy.ping_timeout,
                close_timeout=policy.close_timeout,
                max_size=2**22,
            ) as connection:
                stats.connects += 1
                log.info("websocket connected", extra={"exchange": exchange, "url": url})
                for message in subscribe:
                    await connection.send(json.dumps(message))
                while True:
                    try:
                        raw = await asyncio.wait_for(connection.recv(), timeout=policy.watchdog_seconds)
                    except TimeoutError:
                        stats.watchdog_timeouts += 1
                        log.warning(
                            "no message within the watchdog timeout: reconnecting",
                            extra={"exchange": exchange, "watchdog_seconds": policy.watchdog_seconds},
                        )
                        break
                    attempt = 0
                    text = raw if isinstance(raw, str) else raw.decode(errors="replace")
                    yield Received(text, now_micros())
        except (OSError, TimeoutError, InvalidHandshake, WebSocketException) as exc:
            log.warning("websocket failed", extra={"exchange": exchange, "url": url, "error": repr(exc)})
        stats.disconnects += 1
        delay = policy.backoff(attempt, rng)
        stats.backoff_delays.append(delay)
        attempt += 1
        log.info("reconnecting after backoff", extra={"exchange": exchange, "delay_seconds": round(delay, 3)})
        await asyncio.sleep(delay)
