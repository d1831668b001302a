"""The summary table printed after a run, read from locust's CSV files."""

from __future__ import annotations

import csv
from pathlib import Path


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def summary(prefix: Path) -> list[str]:
    """Per request name: count, failures, req/s, p50/p95/p99 (ms); then the failure reasons."""
    stats = _rows(Path(f"{prefix}_stats.csv"))
    head = f"{'request':<44} {'count':>7} {'fail':>6} {'req/s':>7} {'p50':>6} {'p95':>6} {'p99':>6}"
    lines = [head, "-" * len(head)]
    for row in stats:
        name = row["Name"] if row["Type"] in ("", "None") else f"{row['Type']} {row['Name']}"
        if row["Name"] == "Aggregated":
            lines.append("-" * len(head))
            name = "all requests"
        lines.append(
            f"{name[:44]:<44} {row['Request Count']:>7} {row['Failure Count']:>6} "
            f"{float(row['Requests/s']):>7.1f} {row['50%']:>6} {row['95%']:>6} {row['99%']:>6}"
        )
    failures = _rows(Path(f"{prefix}_failures.csv"))
    if failures:
        lines.append("\nfailures (wrong answers count here, not only errors):")
        for row in failures:
            lines.append(f"  {row['Occurrences']:>6} x {row['Name']}: {row['Error'][:140]}")
    return lines


def failure_count(prefix: Path) -> int:
    """Failures of the whole run (the Aggregated row)."""
    for row in _rows(Path(f"{prefix}_stats.csv")):
        if row["Name"] == "Aggregated":
            return int(row["Failure Count"])
    return 0
