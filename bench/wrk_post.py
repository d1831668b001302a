"""wrk driving POST (or other) requests, with an optional supply of one-use values read from a file.

Authorization codes and refresh tokens can be redeemed once, so each request takes the next
line of ``supply`` (thread ``i`` of ``n`` takes lines ``i, i+n, ...``) and puts it into the body
template in place of its first ``%s``. Refresh tokens returned in 200 answers are written to per-thread files, so
one run's output is the next run's supply. When a thread runs out it sends ``exhausted`` (400):
the caller sees it as non-2xx answers and must not report that run as a rate.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .common import CONNECTIONS, THREADS, Result, wrk_path

_LUA = """
local created = 0
local threads = {}
function setup(thread)
  thread:set("id", created)
  table.insert(threads, thread)
  created = created + 1
end
function init(args)
  items, index, out = {}, 0, nil
  if SUPPLY ~= "" then
    local n = 0
    for line in io.lines(SUPPLY) do
      if n % NTHREADS == id then table.insert(items, line) end
      n = n + 1
    end
  end
  if OUTPUT ~= "" then out = io.open(OUTPUT .. "." .. id, "w") end
end
function request()
  index = index + 1
  local body = BODY_HEAD
  if SUPPLY ~= "" then body = BODY_HEAD .. (items[index] or "exhausted") .. BODY_TAIL end
  return wrk.format(METHOD, PATH, HEADERS, body)
end
function response(status, headers, body)
  if out ~= nil and status == 200 then
    local token = string.match(body, '"refresh_token":"([^"]+)"')
    if token then out:write(token, "\\n"); out:flush() end
  end
end
function done(summary, latency, requests)
  for _, t in ipairs(threads) do io.write("USED ", t:get("id"), " ", t:get("index"), "\\n") end
  local e = summary.errors
  io.write(string.format(
    "BENCH {\\"requests\\":%d,\\"duration_us\\":%d,\\"p50\\":%d,\\"p99\\":%d,\\"errors\\":%d,\\"non2xx\\":%d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


@dataclass(frozen=True)
class PostRun:
    result: Result
    used: dict[int, int]
    """Per wrk thread: how many supply lines it took (including requests still in flight)."""


def _lua(value: object) -> str:
    return json.dumps(value)  # a JSON string/number literal is a valid Lua literal here


def post(
    name: str,
    url: str,
    path: str,
    body: str,
    headers: Mapping[str, str],
    *,
    duration: int,
    directory: Path,
    supply: Path | None = None,
    output: Path | None = None,
    connections: int = CONNECTIONS,
    threads: int = THREADS,
    method: str = "POST",
) -> PostRun:
    head, _, tail = body.partition("%s")
    header_table = "{" + ", ".join(f"[{_lua(k)}] = {_lua(v)}" for k, v in headers.items()) + "}"
    prelude = [
        f"METHOD = {_lua(method)}",
        f"PATH = {_lua(path)}",
        f"BODY_HEAD = {_lua(head)}",
        f"BODY_TAIL = {_lua(tail)}",
        f"HEADERS = {header_table}",
        f"SUPPLY = {_lua(str(supply or ''))}",
        f"OUTPUT = {_lua(str(output or ''))}",
        f"NTHREADS = {threads}",
    ]
    script = directory / f"{name.replace(' ', '_').replace('/', '_')}.lua"
    script.write_text("\n".join(prelude) + _LUA)
    args = [wrk_path(), "-t", str(threads), "-c", str(connections), "-d", f"{duration}s"]
    done = subprocess.run(
        [*args, "-s", str(script), url], capture_output=True, text=True, check=False, timeout=600
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({name}): {done.stderr or done.stdout}")
    return parse_output(name, done.stdout)


def parse_output(name: str, out: str, status: int = 200) -> PostRun:
    used: dict[int, int] = {}
    data: dict[str, int] = {}
    for line in out.splitlines():
        if line.startswith("USED "):
            _, thread, count = line.split()
            used[int(thread)] = int(count)
        elif line.startswith("BENCH "):
            data = json.loads(line[len("BENCH ") :])
    seconds = data["duration_us"] / 1e6
    result = Result(
        name=name,
        rps=data["requests"] / seconds if seconds else 0.0,
        p50_ms=data["p50"] / 1000,
        p99_ms=data["p99"] / 1000,
        errors=data["errors"],
        non2xx=data["non2xx"],
        status=status,
    )
    return PostRun(result, used)


def unused(supply: list[str], used: Mapping[int, int], threads: int = THREADS) -> list[str]:
    """The supply lines no thread took (thread ``i`` took the first ``used[i]`` of its share)."""
    return [
        line for n, line in enumerate(supply) if n // threads >= used.get(n % threads, len(supply))
    ]


def outputs(output: Path, threads: int = THREADS) -> list[str]:
    """Every line the threads wrote to ``output.<i>``."""
    lines: list[str] = []
    for i in range(threads):
        path = Path(f"{output}.{i}")
        if path.exists():
            lines += [x for x in path.read_text().splitlines() if x]
    return lines
