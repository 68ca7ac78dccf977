"""Which trade source a local run uses: live when the exchanges answer, otherwise the offline fallback,
decided fast (a TCP connect with a short timeout per exchange) and said out loud."""

from __future__ import annotations

import socket
from urllib.parse import urlparse

from spark_jobs.feeds import binance, kraken

#: Websocket endpoints the live feed connects to (probed here with a TCP connect, nothing sent).
LIVE_ENDPOINTS = (binance.LIVE_URL, kraken.LIVE_URL)


def exchanges_reachable(timeout: float = 2.0) -> tuple[bool, str]:
    for endpoint in LIVE_ENDPOINTS:
        url = urlparse(endpoint)
        try:
            with socket.create_connection((url.hostname or "", url.port or 443), timeout=timeout):
                pass
        except OSError as error:
            return False, f"{url.hostname} unreachable: {error.__class__.__name__}: {error}"
    return True, "both exchanges answered"


def resolve_source(requested: str, fallback: str) -> tuple[str, str]:
    """(source, why) for --source auto|live|replay|synthetic."""
    if requested != "auto":
        return requested, "chosen with --source"
    reachable, detail = exchanges_reachable()
    if reachable:
        return "live", detail
    return fallback, f"no live exchange connection ({detail}); falling back to the {fallback} feed"
