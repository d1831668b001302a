"""What every benchmark section shares: wrk, service processes, the result table."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

WRK = "/usr/bin/wrk"
CONNECTIONS = 64
THREADS = 2
_LUA = """
wrk.method = "GET"
{headers}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH {{\\"requests\\":%d,\\"duration_us\\":%d,\\"p50\\":%d,\\"p99\\":%d,\\"errors\\":%d,\\"non2xx\\":%d}}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


@dataclass(frozen=True)
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    non2xx: int
    status: int
    worst_p99_ms: float | None = None
    """The highest p99 of the rounds a median was taken over."""


def wrk_path() -> str:
    path = shutil.which("wrk") or (WRK if Path(WRK).exists() else None)
    if path is None:
        sys.exit("wrk is not installed: apt-get install wrk (Debian/Ubuntu), then run make bench")
    return path


def workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="authgate-bench-"))


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal here


def run_wrk(
    name: str,
    url: str,
    headers: Mapping[str, str],
    *,
    duration: int,
    status: int,
    directory: Path,
    threads: int = THREADS,
) -> Result:
    """Drive ``url`` with wrk (CONNECTIONS connections); headers set by a Lua script."""
    lines = [f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items()]
    script = directory / f"{name.replace(' ', '_')}.lua"
    script.write_text(_LUA.format(headers="\n".join(lines)))
    args = [wrk_path(), "-t", str(threads), "-c", str(CONNECTIONS), "-d", f"{duration}s"]
    out = subprocess.run(
        [*args, "-s", str(script), url], capture_output=True, text=True, check=True
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("BENCH "))
    data = json.loads(line[len("BENCH ") :])
    return Result(
        name=name,
        rps=data["requests"] / (data["duration_us"] / 1e6),
        p50_ms=data["p50"] / 1000,
        p99_ms=data["p99"] / 1000,
        errors=data["errors"],
        non2xx=data["non2xx"],
        status=status,
    )


def warm_up(url: str, headers: Mapping[str, str], directory: Path, threads: int = THREADS) -> None:
    run_wrk("warm-up", url, headers, duration=2, status=0, directory=directory, threads=threads)


def print_table(
    title: str,
    results: list[Result],
    ceiling: Result,
    setup: str = f"wrk -t{THREADS}",
    ratios: Mapping[str, float] | None = None,
) -> None:
    """One row per result; ``ratios`` (by name) instead of rate / ceiling's rate when given."""
    print(f"\n{title} (1 worker, {CONNECTIONS} connections, {setup})")
    print(
        f"{'case':<34} {'status':>6} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'worst':>7} "
        f"{'ratio':>6}"
    )
    for r in results:
        ratio = r.rps / ceiling.rps if ceiling.rps else 0.0
        if ratios is not None:
            ratio = ratios[r.name]
        worst = f"{r.worst_p99_ms:>7.2f}" if r.worst_p99_ms is not None else f"{'':>7}"
        extra = f"  ({r.errors} socket errors)" if r.errors else ""
        print(
            f"{r.name:<34} {r.status:>6} {r.rps:>9.0f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f} {worst} "
            f"{ratio:>6.2f}{extra}"
        )
