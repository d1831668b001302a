"""CPU time of the processes a benchmark round involves, read from ``/proc`` (Linux).

A process's share is its CPU seconds over the round's wall-clock seconds: 100 % is one core
busy the whole round, and on a 2-core host the shares add up to at most 200 %. wrk is a child
this process waits for, so its time comes from ``RUSAGE_CHILDREN``.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system time of ``pid`` and all its threads (fields 14, 15 of /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as stat:
        # The command name (field 2) may hold spaces; the fields after its ')' are fixed.
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _children_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Shares:
    """Per process name: CPU seconds over the wall seconds of what ran inside ``measure``."""

    wall: float = 0.0
    seconds: dict[str, float] = field(default_factory=dict)

    def share(self, name: str) -> float:
        return self.seconds.get(name, 0.0) / self.wall if self.wall else 0.0


@contextmanager
def measure(pids: Mapping[str, int], *, load_generator: str = "wrk") -> Iterator[Shares]:
    """CPU of each of ``pids`` and of the children reaped meanwhile (the load generator)."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    children, start = _children_seconds(), time.monotonic()
    shares = Shares()
    yield shares
    shares.wall = time.monotonic() - start
    shares.seconds = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
    shares.seconds[load_generator] = _children_seconds() - children
