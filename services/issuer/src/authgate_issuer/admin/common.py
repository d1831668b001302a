"""What every ``authgate`` command shares: exit codes, the run context, output, scans.

Exit codes are part of the interface (scripts and cron jobs test them): 0 done, 1 the thing named
was not found, 2 usage, configuration or input-file error, 3 Redis unavailable.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import orjson
import redis.asyncio as aioredis

from authgate_shared.redis.connection import scan_keys

from .settings import AdminSettings

OK = 0
NOT_FOUND = 1
USAGE = 2
REDIS_DOWN = 3

# Keys per SCAN call and per pipelined batch: large enough to be quick, small enough that one
# batch never blocks a serving Redis noticeably.
BATCH = 500


class CommandError(Exception):
    """A failure with a message for the operator and the exit code that classifies it."""

    def __init__(self, message: str, code: int = USAGE) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Admin:
    settings: AdminSettings
    redis: aioredis.Redis
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)

    @staticmethod
    def now() -> float:
        return time.time()

    def json(self, value: Any) -> None:
        self.out.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        cells = [[str(h) for h in headers], *[[cell(v) for v in row] for row in rows]]
        widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
        for n, row in enumerate(cells):
            self.out.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
            self.out.write("\n")
            if n == 0:
                self.out.write("  ".join("-" * w for w in widths) + "\n")

    def say(self, message: str) -> None:
        self.out.write(message + "\n")


Handler = Callable[[argparse.Namespace, Admin], Awaitable[int]]


def cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value) or "-"
    return str(value)


def when(ts: float | int | None) -> str | None:
    """A unix time as UTC text for tables; None (shown as '-') for 0/never."""
    if not ts:
        return None
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(ts))


def text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def scan(redis: aioredis.Redis, pattern: str) -> AsyncIterator[list[str]]:
    """Keys matching ``pattern`` in batches, by SCAN (never KEYS: it would block a serving
    Redis; on Cluster ``scan_keys`` covers every primary). SCAN may return a key twice; callers'
    work is idempotent per key."""
    batch: list[str] = []
    async for key in scan_keys(redis, pattern):
        batch.append(text(key))
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


async def get_many(redis: aioredis.Redis, keys: list[str]) -> list[tuple[bytes | None, int]]:
    """(value, remaining TTL in ms; -1 = no expiry) of string keys, one round trip."""
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.get(key)
            pipe.pttl(key)
        replies = await pipe.execute()
    return [(replies[i], int(replies[i + 1])) for i in range(0, len(replies), 2)]


async def hgetall_many(redis: aioredis.Redis, keys: list[str]) -> list[tuple[dict[str, str], int]]:
    """(fields, remaining TTL in ms) of hash keys; fields empty when the key vanished."""
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.hgetall(key)
            pipe.pttl(key)
        replies = await pipe.execute()
    out: list[tuple[dict[str, str], int]] = []
    for i in range(0, len(replies), 2):
        fields = {text(k): text(v) for k, v in replies[i].items()}
        out.append((fields, int(replies[i + 1])))
    return out
