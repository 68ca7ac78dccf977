"""The loopback ports of one `k2 local` data folder: chosen on its first run, then kept.

A data folder's broker remembers its controller endpoint in its KRaft metadata, and a user's
bookmarks and scrapers know the rest, so a folder keeps the ports of its first run (ports.json) while
they are free. A port given on the command line wins; a port nobody chose is the usual default when
that is free, else any free port (so a second pipeline on another folder just works).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from spark_jobs.contracts import JOB_NAMES, LOCAL_METRICS_PORTS
from spark_jobs.local_infra.ports import free_port_near, port_is_free

PORTS_FILE = "ports.json"
#: Kept even when taken now (the start then fails naming it): the KRaft voter set stores it.
PINNED_ONCE_RECORDED = frozenset({"kafka_controller"})


@dataclass(frozen=True)
class LocalPorts:
    kafka: int = 19092
    kafka_controller: int = 19093
    registry: int = 18081
    registry_management: int = 19001
    #: the five jobs' metrics endpoints are metrics_base .. metrics_base + 4, in contracts.JOBS order
    metrics_base: int = min(LOCAL_METRICS_PORTS.values())
    spark_ui: int = 4040

    def metrics_port(self, job_name: str) -> int:
        return self.metrics_base + JOB_NAMES.index(job_name)

    def to_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def _range_free(first: int, count: int, taken: set[int]) -> bool:
    return all(p not in taken and port_is_free(p) for p in range(first, first + count))


def choose_ports(data_dir: Path, requested: dict[str, int | None]) -> LocalPorts:
    """Ports for a run on `data_dir`: given (`requested`, None = not given) > recorded for this folder
    > the default when free > a free one. The choice is recorded for the next run."""
    recorded_file = data_dir / PORTS_FILE
    recorded: dict[str, int] = json.loads(recorded_file.read_text()) if recorded_file.exists() else {}
    known = {f.name for f in dataclasses.fields(LocalPorts)}
    unknown = sorted(set(requested) - known)
    if unknown:
        raise ValueError(f"unknown port names {unknown}; known: {sorted(known)}")
    defaults = LocalPorts()
    chosen: dict[str, int] = {}
    taken: set[int] = set()
    for name in (f.name for f in dataclasses.fields(LocalPorts)):
        width = len(JOB_NAMES) if name == "metrics_base" else 1
        given = requested.get(name)
        previous = recorded.get(name)
        if previous and (name in PINNED_ONCE_RECORDED or _range_free(previous, width, taken)):
            given = given or previous
        if given:
            chosen[name] = given  # a taken port fails at start with its name: the user asked for it
        elif name == "metrics_base":
            base = getattr(defaults, name)
            while not _range_free(base, width, taken):
                base = free_port_near(base + len(JOB_NAMES) + 1, taken)
            chosen[name] = base
        else:
            chosen[name] = free_port_near(getattr(defaults, name), taken)
        taken.update(range(chosen[name], chosen[name] + width))
    ports = LocalPorts(**chosen)
    data_dir.mkdir(parents=True, exist_ok=True)
    recorded_file.write_text(json.dumps(ports.to_dict(), indent=2) + "\n")
    return ports
