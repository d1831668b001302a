"""The issuer section's table: each endpoint against its bare FastAPI route, with its target."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from .common import CONNECTIONS, THREADS, Result


@dataclass(frozen=True)
class Target:
    """A ratio to the bare route (``min_ratio``) or an absolute rate (``min_rps``) to reach."""

    min_ratio: float = 0.0
    min_rps: float = 0.0

    def text(self) -> str:
        if self.min_ratio:
            return f"ratio >= {self.min_ratio:g}"
        return f">= {self.min_rps:,.0f}/s" if self.min_rps else ""


@dataclass(frozen=True)
class Row:
    result: Result
    baseline: Result | None
    target: Target = Target()

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not self.baseline.rps:
            return None
        return self.result.rps / self.baseline.rps

    @property
    def valid(self) -> bool:
        """A run with errors or unexpected statuses (e.g. a supply that ran out) is no rate."""
        return self.result.errors == 0 and self.result.non2xx == 0

    @property
    def meets(self) -> bool | None:
        if not (self.target.min_ratio or self.target.min_rps):
            return None
        if not self.valid:
            return False
        if self.target.min_ratio:
            return self.ratio is not None and self.ratio >= self.target.min_ratio
        return self.result.rps >= self.target.min_rps


def median(name: str, runs: list[Result]) -> Result:
    """The run with the median rate (its latencies kept), rate = median of the rates."""
    middle = sorted(runs, key=lambda r: r.rps)[len(runs) // 2]
    rate = statistics.median(r.rps for r in runs)
    return Result(
        name, rate, middle.p50_ms, middle.p99_ms, middle.errors, middle.non2xx, middle.status
    )


def format_table(title: str, rows: list[Row], workers: int) -> list[str]:
    lines = [f"\n{title} ({workers} workers, {CONNECTIONS} connections, wrk -t{THREADS})"]
    lines.append(
        f"{'case':<38} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'ratio':>6}  {'target':<14} ok"
    )
    for row in rows:
        r = row.result
        ratio = "" if row.ratio is None else f"{row.ratio:.2f}"
        meets = {None: "", True: "yes", False: "NO"}[row.meets]
        line = f"{r.name:<38} {r.rps:>8.0f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f} {ratio:>6}"
        line += f"  {row.target.text():<14} {meets}"
        if not row.valid:
            line += f"  ({r.errors} socket errors, {r.non2xx} non-2xx)"
        lines.append(line.rstrip())
    return lines
