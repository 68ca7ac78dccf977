"""Loopback ports: find a free one, check one is free. Servers here bind 127.0.0.1 only."""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A port nothing listens on right now (the kernel picks it when binding port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether a server could listen on the port now. SO_REUSEADDR, as the JVM's and Python's servers
    set it: connections of a server stopped a moment ago linger in TIME_WAIT, which does not stop a
    new listener, so it must not make the port look taken (it made a second `k2 local` fail)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def require_free_ports(server: str, **ports: int) -> None:
    """Fail with a clear message (not a JVM stack trace later) when a port is already taken."""
    taken = {name: port for name, port in ports.items() if not port_is_free(port)}
    if taken:
        listing = ", ".join(f"{name}={port}" for name, port in taken.items())
        raise RuntimeError(f"{server}: port already in use on {LOOPBACK}: {listing}; pick another port")


def free_port_near(preferred: int, taken: set[int] | frozenset[int] = frozenset()) -> int:
    """`preferred` when nothing listens there (and it is not in `taken`), else one the kernel picks."""
    if preferred not in taken and port_is_free(preferred):
        return preferred
    while True:
        port = free_port()
        if port not in taken:
            return port
