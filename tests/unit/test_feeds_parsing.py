"""Exchange message parsers: exact decimals, every trade of a message, strict field types."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from spark_jobs.feeds import binance, kraken
from spark_jobs.feeds.parsing import FeedParseError, ParsedMessage
from spark_jobs.synthetic_trades import CryptoDataFactory, validate_record

pytestmark = pytest.mark.unit

INGESTED = 1_717_425_000_123_456
Parser = Callable[[str, int], ParsedMessage]


def kraken_update(*trades: dict[str, object]) -> str:
    return json.dumps({"channel": "trade", "type": "update", "data": list(trades)})


def test_kraken_numbers_stay_exact_decimal_text() -> None:
    raw = (
        '{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"sell","price":0.1,'
        '"qty":1.5e-05,"ord_type":"limit","trade_id":7,"timestamp":"2024-06-03T14:30:00.123456Z"}]}'
    )
    (trade,) = kraken.parse_message(raw, INGESTED).trades
    assert (trade["price"], trade["quantity"]) == ("0.1", "0.000015")  # never 0.1000000000000000055
    assert trade["trade_time_seconds"] == "2024-06-03T14:30:00.123456Z"
    assert trade["ingestion_timestamp"] == INGESTED
    assert validate_record("kraken_raw_trade", trade)


def test_every_trade_of_a_kraken_message_is_parsed_in_order() -> None:
    factory = CryptoDataFactory(seed=3)
    originals = [factory.kraken_raw_trade(base=base) for base in ("BTC", "ETH", "SOL", "BTC")]
    parsed = kraken.parse_message(kraken.wire_message(originals), INGESTED).trades
    assert [t["trade_id"] for t in parsed] == [t["trade_id"] for t in originals]
    assert [t["symbol"] for t in parsed] == ["BTC/USD", "ETH/USD", "SOL/USD", "BTC/USD"]
    assert all(float(p["price"]) == float(o["price"]) for p, o in zip(parsed, originals, strict=True))


def test_binance_wire_round_trip_gives_back_the_factory_record() -> None:
    original = CryptoDataFactory(seed=5).binance_raw_trade()
    parsed = binance.parse_message(binance.wire_message(original), original["ingestion_timestamp"])
    assert parsed == ParsedMessage([original])


@pytest.mark.parametrize(
    ("parser", "raw"),
    [
        (binance.parse_message, '{"result":null,"id":1}'),
        (kraken.parse_message, '{"channel":"heartbeat"}'),
        (kraken.parse_message, '{"method":"subscribe","result":{"channel":"trade"},"success":true}'),
    ],
)
def test_control_messages_hold_no_trades(parser: Parser, raw: str) -> None:
    assert parser(raw, INGESTED) == ParsedMessage([], [])


@pytest.mark.parametrize(
    ("parser", "raw", "reason"),
    [
        (binance.parse_message, '{"stream":"btcusdt@trade","data":{"e":"trade"', "not JSON"),
        (
            binance.parse_message,
            '{"stream":"x","data":{"e":"trade","E":1,"s":"BTCUSDT","t":true,'
            '"p":"1","q":"1","T":1,"m":false}}',
            "boolean",
        ),
        (
            binance.parse_message,
            '{"stream":"x","data":{"e":"trade","E":1,"s":"BTCUSDT","t":1,'
            '"p":"1","q":"lots","T":1,"m":false}}',
            "not a number",
        ),
        (kraken.parse_message, '{"channel":"trade","type":"update","data":{}}', "has type dict"),
        (kraken.parse_message, '{"method":"subscribe","success":false,"error":"bad symbol"}', "bad symbol"),
        (kraken.parse_message, '{"channel":"book","data":[]}', "unexpected channel"),
    ],
)
def test_malformed_messages_raise_with_a_reason(parser: Parser, raw: str, reason: str) -> None:
    with pytest.raises(FeedParseError, match=reason):
        parser(raw, INGESTED)


def test_one_bad_trade_of_a_kraken_message_is_rejected_alone() -> None:
    factory = CryptoDataFactory(seed=9)
    good = [json.loads(kraken.wire_message([factory.kraken_raw_trade()]))["data"][0] for _ in range(3)]
    bad = {**good[1], "price": "about 60k", "trade_id": 4242}
    del good[1]
    raw = kraken_update(good[0], bad, good[1], {"symbol": "BTC/USD"})

    parsed = kraken.parse_message(raw, INGESTED)

    assert [t["trade_id"] for t in parsed.trades] == [good[0]["trade_id"], good[1]["trade_id"]]
    assert len(parsed.rejected) == 2
    assert parsed.rejected[0].startswith("trade 2 of 4 (trade_id 4242): kraken price: not a number")
    assert parsed.rejected[1].startswith("trade 4 of 4: kraken trade: missing field")
