"""The gateway section's table: rates, ratios, CPU shares and new connections per case."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .common import CONNECTIONS, Result
from .cpu import Shares

PROCESSES = ("traefik", "verifier", "upstream", "redis", "wrk")


@dataclass(frozen=True)
class Round:
    result: Result
    shares: Shares
    new_connections: float | None
    """Connections the verifier accepted per /verify answer in the round (None: no auth)."""


def _quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, median, q3 = statistics.quantiles(values, n=4)
    return q1, median, q3


def print_rounds(rounds: Mapping[str, list[Round]], baseline: str) -> None:
    """Per case: median rate, its per-round ratio to ``baseline`` (quartiles), latency, each
    process's CPU share (100 % = one core) and CPU time per request, and the new-connection
    share of its auth calls."""
    n = len(rounds[baseline])
    print(f"\nGateway through Traefik, median of {n} rounds of 1 s ({CONNECTIONS} connections)")
    print(f"{'case':<34} {'req/s':>7} {'ratio (q1-q3)':>17} {'p50 ms':>7} {'p99 ms':>7}  new conns")
    for name, rs in rounds.items():
        rps = statistics.median(r.result.rps for r in rs)
        per_round = [r.result.rps / b.result.rps for r, b in zip(rs, rounds[baseline], strict=True)]
        q1, ratio, q3 = _quartiles(per_round)
        p50 = statistics.median(r.result.p50_ms for r in rs)
        p99 = statistics.median(r.result.p99_ms for r in rs)
        shares = [r.new_connections for r in rs if r.new_connections is not None]
        conns = ""
        if shares:
            lo, mid, hi = _quartiles(shares)
            conns = f"{mid:.0%} ({lo:.0%}-{hi:.0%})"
        errors = sum(r.result.errors + r.result.non2xx for r in rs)
        extra = f"  ({errors} errors or non-2xx)" if errors else ""
        print(
            f"{name:<34} {rps:>7.0f} {ratio:>5.2f} ({q1:.2f}-{q3:.2f}) {p50:>7.2f} {p99:>7.2f}"
            f"  {conns}{extra}"
        )
    print("CPU share of each process (100 % = one core busy) and CPU µs per request, medians:")
    print(f"{'case':<34} " + " ".join(f"{p:>16}" for p in PROCESSES))
    for name, rs in rounds.items():
        cells = []
        for process in PROCESSES:
            share = statistics.median(r.shares.share(process) for r in rs)
            per_request = statistics.median(
                r.shares.share(process) / r.result.rps * 1e6 for r in rs if r.result.rps
            )
            cells.append(f"{share:>6.0%} {per_request:>6.0f} µs")
        print(f"{name:<34} " + " ".join(f"{c:>16}" for c in cells))
    print(
        "ratio: the case's rate / the no-auth rate of the same round; new conns: connections"
        " the verifier accepted per /verify answer (quartiles)"
    )
