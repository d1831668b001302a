"""Which CPUs a one-worker server and its load generator run on.

A one-worker server can use one core. When wrk, Redis and the server share every core, the
scheduler gives the server whatever wrk leaves, and wrk's share grows with the response it
parses: the bare app answering with the verifier's ~1.2 KB of headers (the table's control
row) then loses to the bare app answering with two, with nothing of the verifier in it. That
is the load generator's cost, not the server's. So by default the server gets a core to itself
(the highest the bench may use) and wrk and Redis get the others, and the table says so;
``--shared-cores`` measures the old way. Processes inherit their parent's CPU set, so the bench moves itself onto the server's
core while it starts a server and back while it starts anything else.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .common import THREADS


@dataclass(frozen=True)
class Placement:
    server: frozenset[int]
    load: frozenset[int]

    @property
    def pinned(self) -> bool:
        return self.server != self.load

    @property
    def load_threads(self) -> int:
        """wrk threads: one per core it has, the usual count when it shares them."""
        return len(self.load) if self.pinned else THREADS

    def describe(self) -> str:
        if not self.pinned:
            return "server, wrk and Redis share CPUs " + _cpus(self.load)
        return f"server on CPU {_cpus(self.server)}, wrk and Redis on CPU {_cpus(self.load)}"

    @contextmanager
    def loading(self) -> Iterator[None]:
        """This process (and what it starts, e.g. Redis and wrk) on the load generator's CPUs."""
        with _affinity(self.load):
            yield

    @contextmanager
    def serving(self) -> Iterator[None]:
        """Servers started inside run on the server's CPUs."""
        with _affinity(self.server):
            yield


def placement(*, shared: bool) -> Placement:
    cpus = frozenset(os.sched_getaffinity(0))
    if shared or len(cpus) < 2:
        return Placement(server=cpus, load=cpus)
    server = max(cpus)
    return Placement(server=frozenset({server}), load=cpus - {server})


@contextmanager
def _affinity(cpus: frozenset[int]) -> Iterator[None]:
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _cpus(cpus: frozenset[int]) -> str:
    return ",".join(str(c) for c in sorted(cpus))
