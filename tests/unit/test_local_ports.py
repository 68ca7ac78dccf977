"""`k2 local` ports: free-port checks that a stopped server's TIME_WAIT does not fool, and one data
folder's ports chosen once, kept, overridable, and moved off ports another process holds."""

from __future__ import annotations

import contextlib
import json
import socket
from pathlib import Path

import pytest

from spark_jobs.local.ports import PORTS_FILE, LocalPorts, choose_ports
from spark_jobs.local_infra.ports import LOOPBACK, free_port, port_is_free

pytestmark = pytest.mark.unit


def test_a_port_in_time_wait_after_its_server_stopped_counts_as_free() -> None:
    server = socket.create_server((LOOPBACK, 0))
    port = server.getsockname()[1]
    client = socket.create_connection((LOOPBACK, port))
    accepted, _ = server.accept()
    accepted.close()  # the server side closes first: its end of the connection lingers in TIME_WAIT
    client.recv(1)
    client.close()
    assert not port_is_free(port)  # still listening
    server.close()
    assert port_is_free(port)  # what a restarted broker could bind at once


def test_ports_default_when_free_are_recorded_and_kept(tmp_path: Path) -> None:
    listener = socket.create_server((LOOPBACK, 0))  # something holds one port we then ask for
    held = listener.getsockname()[1]
    try:
        first = choose_ports(tmp_path, {"kafka": None, "registry": held, "metrics_base": None})
        assert first.registry == held  # asked for: kept, and the start will name it if it is taken
        assert json.loads((tmp_path / PORTS_FILE).read_text()) == first.to_dict()
        again = choose_ports(tmp_path, {})
        assert again.kafka == first.kafka and again.kafka_controller == first.kafka_controller
        explicit = free_port()
        assert choose_ports(tmp_path, {"kafka": explicit}).kafka == explicit
    finally:
        listener.close()


def test_a_default_port_someone_else_holds_is_replaced_by_a_free_one(tmp_path: Path) -> None:
    defaults = LocalPorts()
    holders = []
    for port in (defaults.kafka, defaults.metrics_base + 2):
        with contextlib.suppress(OSError):  # already held by someone else: just as good for this test
            holders.append(socket.create_server((LOOPBACK, port)))
    try:
        ports = choose_ports(tmp_path, {})
        assert ports.kafka != defaults.kafka
        metrics = [ports.metrics_port(job) for job in ("bronze-binance", "gold")]
        assert defaults.metrics_base + 2 not in range(metrics[0], metrics[1] + 1)
        assert all(port_is_free(p) for p in range(metrics[0], metrics[1] + 1))
        assert len({ports.kafka, ports.kafka_controller, ports.registry, ports.registry_management}) == 4
    finally:
        for holder in holders:
            holder.close()
