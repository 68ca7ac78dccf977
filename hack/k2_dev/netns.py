"""A Linux network namespace that a test creates, runs servers in, and deletes.

Processes enter it with `nsenter --net=/run/netns/<name>` (not `ip netns exec`, which also remounts
/sys and so hides the host's cgroup mounts from the kubelet and containerd). Python code that must talk
to a server inside it (readiness probes) runs in a short-lived thread that joined the namespace with
setns(2): a network namespace is per thread, so the rest of the process stays on the host's network.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/run/netns")


@dataclass(frozen=True)
class NetNS:
    name: str

    @property
    def path(self) -> Path:
        return NETNS_DIR / self.name

    def exists(self) -> bool:
        return self.path.exists()

    def create(self) -> NetNS:
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.ip("link", "set", "lo", "up")
        return self

    def delete(self) -> None:
        if self.exists():
            subprocess.run(["ip", "netns", "delete", self.name], check=False)

    def prefix(self) -> list[str]:
        """Put in front of a command to run it inside the namespace."""
        return ["nsenter", f"--net={self.path}"]

    def ip(self, *args: str) -> None:
        subprocess.run(["ip", "-n", self.name, *args], check=True)

    def sysctl(self, key: str, value: str) -> None:
        """A per-namespace sysctl (net.*): it changes nothing on the host."""
        assert key.startswith("net."), f"{key} is not a per-network-namespace sysctl"
        subprocess.run([*self.prefix(), "sysctl", "-q", "-w", f"{key}={value}"], check=True)

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` in a thread that joined this namespace; return its result or raise its exception."""
        result: list[T] = []
        error: list[BaseException] = []

        def target() -> None:
            try:
                fd = os.open(self.path, os.O_RDONLY)
                try:
                    if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), f"setns into {self.path}")
                finally:
                    os.close(fd)
                result.append(fn())
            except BaseException as exc:
                error.append(exc)

        thread = threading.Thread(target=target, name=f"netns-{self.name}", daemon=True)
        thread.start()
        thread.join()
        if error:
            raise error[0]
        return result[0]

    def probe(self, fn: Callable[[], bool]) -> bool:
        """`call` for readiness probes: any error counts as not ready."""
        with contextlib.suppress(Exception):
            return self.call(fn)
        return False
