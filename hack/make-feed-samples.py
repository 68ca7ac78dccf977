#!/usr/bin/env python3
"""Write the replay samples in spark_jobs/feeds/samples/ (deterministic: same output every run).

This machine has no internet, so the samples are not captured from the exchanges: they are written
message by message in the wire formats Binance (combined trade stream) and Kraken (websocket v2
trade channel) document, with prices and sizes from the seeded CryptoDataFactory, including the
control messages each exchange sends, multi-trade Kraken messages, a few malformed messages and two
multi-trade messages with one bad trade each (their siblings are good trades).
They are as messy as the real feeds: trade ids count per symbol from overlapping ranges (two symbols
share ids on the same day), some Binance messages arrive twice (a resend), Kraken reconnects midway
and its new snapshot resends recent trades, prices carry more fractional digits than needed, and
Kraken's JSON-number sizes come in exponent form (8.3e-05).
manifest.json records, by construction, how many messages, trades (as produced), distinct trades,
control and malformed messages and rejected trades each file holds; the replay tests check the feed
against it.

    .venv/bin/python hack/make-feed-samples.py
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from spark_jobs.synthetic_trades import CryptoDataFactory

OUT = Path(__file__).resolve().parent.parent / "spark_jobs" / "feeds" / "samples"
START = datetime(2024, 6, 3, 14, 30, 0, tzinfo=UTC)


class Recording:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.offset = 0.0
        self.lines: list[str] = []
        self.counts = {
            "messages": 0,
            "trades": 0,
            "distinct_trades": 0,
            "control": 0,
            "malformed": 0,
            "rejected_trades": 0,
        }

    def add(self, raw: str, kind: str, trades: int = 0, resent: int = 0, rejected_trades: int = 0) -> None:
        """One message; `resent` of its `trades` were already sent earlier (same symbol and id);
        `rejected_trades` more of it are bad trades the feed rejects alone."""
        self.offset += self.rng.uniform(0.01, 0.25)
        self.lines.append(json.dumps({"offset_seconds": round(self.offset, 3), "raw": raw}))
        self.counts["messages"] += 1
        self.counts["trades"] += trades
        self.counts["distinct_trades"] += trades - resent
        self.counts["rejected_trades"] += rejected_trades
        if kind != "trade":
            self.counts[kind] += 1

    def moment(self) -> datetime:
        return START + timedelta(seconds=self.offset)


def compact(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))


def binance_recording() -> Recording:
    rec = Recording(seed=101)
    factory = CryptoDataFactory(seed=7)
    bases = ["BTC", "ETH", "SOL", "BNB"]
    malformed_at = {
        40: "truncated",
        95: "missing_price",
        160: "not_a_number",
        230: "wrong_event",
        290: "array",
    }
    rec.add(compact({"result": None, "id": 1}), "control")  # reply to a SUBSCRIBE on the same socket
    for i in range(320):
        event_ms = int(rec.moment().timestamp() * 1000)
        trade = factory.binance_raw_trade(
            base=bases[i % 4], event_time_ms=event_ms + 1, trade_time_ms=event_ms
        )
        price = trade["price"] + ("0000000000" if i % 9 == 0 else "")  # more digits than the scale, all 0
        data = {
            "e": "trade",
            "E": trade["event_time_ms"],
            "s": trade["symbol"],
            "t": trade["trade_id"],
            "p": price,
            "q": trade["quantity"],
            "T": trade["trade_time_ms"],
            "m": trade["is_buyer_maker"],
            "M": True,
        }
        message = {"stream": f"{trade['symbol'].lower()}@trade", "data": data}
        kind = malformed_at.get(i)
        if kind is None:
            rec.add(compact(message), "trade", trades=1)
            if i % 37 == 36:  # delivered twice (at-least-once upstream): the same trade again
                rec.add(compact(message), "trade", trades=1, resent=1)
        elif kind == "truncated":
            rec.add(compact(message)[:57], "malformed")
        elif kind == "missing_price":
            del data["p"]
            rec.add(compact(message), "malformed")
        elif kind == "not_a_number":
            data["q"] = "n/a"
            rec.add(compact(message), "malformed")
        elif kind == "wrong_event":
            data["e"] = "kline"
            rec.add(compact(message), "malformed")
        else:
            rec.add(compact([message]), "malformed")
    return rec


def kraken_trade(factory: CryptoDataFactory, base: str, moment: datetime) -> dict[str, Any]:
    trade = factory.kraken_raw_trade(base=base)
    return {
        "symbol": trade["symbol"],
        "side": trade["side"],
        "price": float(trade["price"]),
        "qty": float(trade["quantity"]),
        "ord_type": trade["order_type"],
        "trade_id": trade["trade_id"],
        "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }


def kraken_recording() -> Recording:
    rec = Recording(seed=202)
    factory = CryptoDataFactory(seed=11)
    symbols = {"BTC": "BTC/USD", "ETH": "ETH/USD", "SOL": "SOL/USD"}
    status = {
        "channel": "status",
        "type": "update",
        "data": [{"version": "2.0.8", "system": "online", "api_version": "v2", "connection_id": 1163211093}],
    }
    rec.add(compact(status), "control")
    for base, symbol in symbols.items():
        ack = {
            "method": "subscribe",
            "result": {"channel": "trade", "snapshot": True, "symbol": symbol},
            "success": True,
            "time_in": "2024-06-03T14:30:00.101Z",
            "time_out": "2024-06-03T14:30:00.104Z",
        }
        rec.add(compact(ack), "control")
        # on subscribe Kraken sends recent trades as one snapshot message
        snapshot = [kraken_trade(factory, base, rec.moment() - timedelta(seconds=60 - s)) for s in range(10)]
        rec.add(compact({"channel": "trade", "type": "snapshot", "data": snapshot}), "trade", trades=10)
    malformed_at = {30: "truncated", 77: "missing_qty", 120: "empty_data", 181: "price_text", 240: "unknown"}
    sent: dict[str, list[dict[str, Any]]] = {symbol: [] for symbol in symbols.values()}
    for i in range(260):
        if i % 25 == 24:
            rec.add(compact({"channel": "heartbeat"}), "control")
            continue
        if i == 150:
            reconnect(rec, status, sent["BTC/USD"][-10:])
        base = list(symbols)[i % 3]
        size = rec.rng.choice([1, 1, 1, 2, 3, 4])
        trades = [kraken_trade(factory, base, rec.moment()) for _ in range(size)]
        message = {"channel": "trade", "type": "update", "data": trades}
        kind = malformed_at.get(i)
        if kind is None:
            rec.add(compact(message), "trade", trades=size)
            sent[symbols[base]] += trades
        elif kind == "truncated":
            rec.add(compact(message)[:80], "malformed")
        elif kind == "missing_qty":  # one bad trade: its siblings are still trades
            del trades[-1]["qty"]
            rec.add(compact(message), "trade", trades=size - 1, rejected_trades=1)
            sent[symbols[base]] += trades[:-1]
        elif kind == "empty_data":
            rec.add(compact({"channel": "trade", "type": "update", "data": []}), "malformed")
        elif kind == "price_text":
            trades[0]["price"] = "about 60k"
            rec.add(compact(message), "trade", trades=size - 1, rejected_trades=1)
            sent[symbols[base]] += trades[1:]
        else:
            ticker = {"channel": "ticker", "type": "update", "data": [{"symbol": "BTC/USD"}]}
            rec.add(compact(ticker), "malformed")
    return rec


def reconnect(rec: Recording, status: dict[str, Any], recent: list[dict[str, Any]]) -> None:
    """The socket dropped and came back: status, a new subscribe ack, and a snapshot that resends
    the book's recent trades (same ids, times and prices as before)."""
    rec.add(compact(status), "control")
    ack = {
        "method": "subscribe",
        "result": {"channel": "trade", "snapshot": True, "symbol": recent[0]["symbol"]},
        "success": True,
        "time_in": rec.moment().strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "time_out": rec.moment().strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    rec.add(compact(ack), "control")
    snapshot = {"channel": "trade", "type": "snapshot", "data": recent}
    rec.add(compact(snapshot), "trade", trades=len(recent), resent=len(recent))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    manifest = {}
    for exchange, recording in (("binance", binance_recording()), ("kraken", kraken_recording())):
        (OUT / f"{exchange}.jsonl").write_text("\n".join(recording.lines) + "\n")
        manifest[exchange] = recording.counts
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest))


if __name__ == "__main__":
    main()
