"""The live websocket client against real websocket servers on 127.0.0.1 (no exchange is reached):
servers that replay the recorded messages, drop the connection, refuse to talk, stall, or stop
answering pings, to prove reconnect, exponential backoff with jitter, the watchdog and ping/pong."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from spark_jobs.feeds import FeedConfig, feed
from spark_jobs.feeds.kraken import subscribe_messages
from spark_jobs.feeds.sources.live import ConnectionStats, ReconnectPolicy, websocket_messages
from spark_jobs.feeds.sources.replay import read_recording, sample_path
from spark_jobs.local_infra.kafka_broker import KafkaBroker
from spark_jobs.local_infra.schema_registry import SchemaRegistry
from tests.fixtures.kafka_fixtures import sample_manifest, topic_size

pytestmark = pytest.mark.integration

Handler = Callable[[ServerConnection, int], Awaitable[None]]
FAST = ReconnectPolicy(initial_backoff=0.1, max_backoff=1.0, watchdog_seconds=5.0, open_timeout=5.0)


class ScriptedServer:
    """A websocket server whose n-th connection (0-based) is handled by `script(connection, n)`;
    it records each connection's time, request path and first client message."""

    def __init__(self, script: Handler) -> None:
        self.script = script
        self.connected_at: list[float] = []
        self.paths: list[str] = []
        self.url = ""

    async def handle(self, connection: ServerConnection) -> None:
        number = len(self.connected_at)
        self.connected_at.append(time.monotonic())
        self.paths.append(connection.request.path if connection.request else "")
        await self.script(connection, number)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[ScriptedServer]:
        async with serve(self.handle, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            self.url = f"ws://127.0.0.1:{port}"
            yield self


def recorded(exchange: str) -> list[str]:
    return [raw for _, raw in read_recording(sample_path(exchange))]


async def collect(
    messages: AsyncGenerator[Any, None], count: int, timeout: float = 20.0
) -> list[tuple[float, str]]:
    """The first `count` messages with their arrival times."""
    received: list[tuple[float, str]] = []

    async def take() -> None:
        async for message in messages:
            received.append((time.monotonic(), message.text))
            if len(received) == count:
                return

    await asyncio.wait_for(take(), timeout)
    await messages.aclose()  # closes the websocket like a cancelled feed does
    return received


# Every symbol the recorded sample carries: the feed produces only the symbols it subscribed to.
RECORDED_BINANCE_SYMBOLS = ["BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT"]


def test_live_feed_survives_a_dropped_connection_and_produces_every_trade(
    kafka_broker: KafkaBroker, schema_registry: SchemaRegistry, unique_raw_topics: dict[str, str]
) -> None:
    messages = recorded("binance")
    half = len(messages) // 2

    async def script(connection: ServerConnection, number: int) -> None:
        batch = messages[:half] if number == 0 else messages[half:]
        for raw in batch:
            await connection.send(raw)
        if number == 0:
            connection.transport.abort()  # drop: no close frame, like a network failure
        else:
            await connection.wait_closed()  # stay open and quiet until the feed stops

    async def scenario() -> tuple[Any, ScriptedServer]:
        async with ScriptedServer(script).running() as server:
            config = FeedConfig(
                ["binance"], "live", kafka_broker.bootstrap_servers, schema_registry.url,
                limit=len(messages), duration=60.0, topics=unique_raw_topics, reconnect=FAST,
                live_urls={"binance": server.url}, symbols={"binance": RECORDED_BINANCE_SYMBOLS},
            )  # fmt: skip
            return await feed(config), server

    stats, server = asyncio.run(scenario())

    expected = sample_manifest()["binance"]
    counters, connections = stats.exchanges["binance"], stats.connections["binance"]
    assert server.paths[0] == "/stream?streams=btcusdt@trade/ethusdt@trade/bnbusdt@trade/solusdt@trade"
    assert connections.connects == 2 and connections.disconnects == 1
    assert counters.received == expected["messages"]
    assert counters.produced == expected["trades"]
    assert counters.parse_errors == expected["malformed"]
    assert topic_size(kafka_broker.bootstrap_servers, unique_raw_topics["binance"]) == expected["trades"]


def test_backoff_grows_exponentially_with_jitter_and_resets_after_a_message() -> None:
    kraken = recorded("kraken")
    first_messages: list[Any] = []

    async def script(connection: ServerConnection, number: int) -> None:
        first_messages.append(json.loads(await connection.recv()))
        if number < 3:
            return  # accept, then hang up at once: nothing delivered, backoff keeps growing
        await connection.send(kraken[number])
        if number == 4:
            await connection.wait_closed()

    policy = ReconnectPolicy(initial_backoff=0.1, max_backoff=1.0, watchdog_seconds=5.0)
    stats = ConnectionStats()

    async def scenario() -> tuple[list[tuple[float, str]], ScriptedServer]:
        async with ScriptedServer(script).running() as server:
            symbols = ["BTC/USD", "ETH/USD"]
            client = websocket_messages(
                server.url, subscribe_messages(symbols), policy=policy, stats=stats, rng=random.Random(7)
            )
            return await collect(client, 2), server

    received, server = asyncio.run(scenario())

    assert [text for _, text in received] == kraken[3:5]
    assert (
        first_messages
        == [{"method": "subscribe", "params": {"channel": "trade", "symbol": ["BTC/USD", "ETH/USD"]}}] * 5
    )
    delays = stats.backoff_delays
    assert len(delays) == 4
    for attempt, delay in enumerate(delays[:3]):  # 0.1, 0.2, 0.4 ceilings, jittered into [d/2, d]
        ceiling = 0.1 * 2**attempt
        assert ceiling / 2 <= delay <= ceiling
    assert 0.05 <= delays[3] <= 0.1  # the 4th connection delivered a message: backoff reset
    gaps = [b - a for a, b in zip(server.connected_at, server.connected_at[1:], strict=False)]
    assert all(gap >= delay * 0.95 for gap, delay in zip(gaps, delays, strict=True))
    assert len(set(delays[:3])) == 3  # jitter: not a fixed schedule


def test_watchdog_redials_a_connection_that_goes_silent() -> None:
    binance = recorded("binance")
    closed_by_client = asyncio.Event()

    async def script(connection: ServerConnection, number: int) -> None:
        if number == 0:
            await connection.send(binance[1])
            await connection.send(binance[2])
            await connection.wait_closed()  # stall: open, pings answered, no data
            closed_by_client.set()
        else:
            await connection.send(binance[3])
            await connection.wait_closed()

    policy = ReconnectPolicy(initial_backoff=0.05, max_backoff=0.1, watchdog_seconds=0.5)
    stats = ConnectionStats()

    async def scenario() -> list[tuple[float, str]]:
        async with ScriptedServer(script).running() as server:
            received = await collect(websocket_messages(server.url, policy=policy, stats=stats), 3)
            assert closed_by_client.is_set()
            return received

    received = asyncio.run(scenario())

    assert [text for _, text in received] == binance[1:4]
    assert stats.watchdog_timeouts == 1 and stats.connects == 2
    assert received[2][0] - received[1][0] >= 0.5  # redialled only after the silence passed the watchdog


def test_ping_timeout_drops_a_peer_that_stops_answering_pings() -> None:
    """A raw TCP peer completes the websocket handshake, sends one message, then never reads again:
    the client's pings go unanswered and ping/pong (not the much longer watchdog) drops it."""
    connections: list[float] = []
    frame = recorded("binance")[1].encode()

    async def mute_peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(time.monotonic())
        request = (await reader.readuntil(b"\r\n\r\n")).decode()
        key = next(
            line.split(":", 1)[1].strip()
            for line in request.split("\r\n")
            if line.lower().startswith("sec-websocket-key")
        )
        accept = base64.b64encode(
            hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
        )
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")  # fmt: skip
        writer.write(bytes([0x81, 126]) + len(frame).to_bytes(2, "big") + frame)  # one unmasked text frame
        await writer.drain()
        while await reader.read(4096):  # reads the pings, never answers them
            pass
        writer.close()

    policy = ReconnectPolicy(
        initial_backoff=0.05,
        max_backoff=0.1,
        watchdog_seconds=30.0,
        ping_interval=0.2,
        ping_timeout=0.3,
        close_timeout=0.2,  # the mute peer never answers the closing handshake either
    )
    stats = ConnectionStats()

    async def scenario() -> list[tuple[float, str]]:
        server = await asyncio.start_server(mute_peer, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            return await collect(websocket_messages(f"ws://127.0.0.1:{port}", policy=policy, stats=stats), 2)

    received = asyncio.run(scenario())

    assert [text for _, text in received] == [frame.decode()] * 2  # the second came after a redial
    assert len(connections) == 2
    assert stats.disconnects == 1 and stats.watchdog_timeouts == 0
    assert received[1][0] - received[0][0] < 3  # ping timeout, far sooner than the 30 s watchdog
