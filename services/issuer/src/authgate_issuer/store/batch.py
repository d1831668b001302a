"""One request's Redis commands in as few round trips as the deployment keeps them ordered.

A round trip is the largest cost of the token endpoint after signing (redis-py spends tens of
µs of CPU per call, and the request waits for Redis each time), so independent commands of a
request are queued on one pipeline. Order matters where a crash in between must leave a
known state (an index entry before the grant it names; the client re-read *after* the grant
was written). On a single primary (standalone or Sentinel) a pipeline is one connection and
Redis runs it in order, so a dropped connection leaves a prefix of it done: ordered steps
may share one pipeline. A Cluster pipeline splits commands by node and sends the parts
concurrently, so there the ordered steps go one after the other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline, RedisCluster
from redis.exceptions import NoScriptError
from redis.typing import EncodableT

Queue = Callable[[Pipeline], None]
"""Queues commands on a pipeline; the results come back in the same order."""


def nothing(_: Pipeline) -> None:
    """A Queue that queues nothing."""


def chain(*queues: Queue) -> Queue:
    """One Queue running ``queues`` in order."""

    def queue_all(pipe: Pipeline) -> None:
        for queue in queues:
            queue(pipe)

    return queue_all


@dataclass(frozen=True)
class Script:
    """A Lua script addressed by its SHA-1 (EVALSHA); every Script is loaded on a NOSCRIPT."""

    source: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        # SHA-1 because that is how Redis names scripts (EVALSHA), not for security.
        digest = hashlib.sha1(self.source.encode(), usedforsecurity=False).hexdigest()
        object.__setattr__(self, "sha", digest)
        _SCRIPTS.append(self)

    def queue(self, pipe: Pipeline, keys: Sequence[str], args: Sequence[EncodableT]) -> None:
        if isinstance(pipe, ClusterPipeline):
            # Cluster pipelines refuse EVALSHA; EVAL sends the source (and caches it).
            pipe.eval(self.source, len(keys), *keys, *args)
        else:
            pipe.evalsha(self.sha, len(keys), *keys, *args)


_SCRIPTS: list[Script] = []


async def run(redis: aioredis.Redis, queue: Queue) -> list[Any]:
    """The commands of ``queue`` as one pipeline (no MULTI: they need not be atomic).

    ``queue`` must be idempotent if it queues scripts: after a NOSCRIPT (Redis restarted or
    its scripts flushed) they are loaded and the whole pipeline is sent again.
    """
    for _ in range(2):
        async with redis.pipeline(transaction=False) as pipe:
            queue(pipe)
            results = list(await pipe.execute(raise_on_error=False))
        if any(isinstance(item, NoScriptError) for item in results):
            for script in _SCRIPTS:
                await redis.script_load(script.source)
            continue
        for item in results:
            if isinstance(item, Exception):
                raise item
        return results
    raise NoScriptError("scripts could not be loaded")


async def around_script(
    redis: aioredis.Redis,
    script: Script,
    keys: Sequence[str],
    args: Sequence[EncodableT],
    *,
    before: Queue = nothing,
    after: Queue = nothing,
) -> tuple[Any, list[Any]]:
    """Run ``before``'s commands, then ``script``, then ``after``'s commands, in that order;
    returns (the script's result, ``after``'s results).

    ``before`` must be idempotent (see ``run``).
    """
    if isinstance(redis, RedisCluster):
        if before is not nothing:
            await run(redis, before)
        result = await redis.register_script(script.source)(keys=keys, args=args)
        later = await run(redis, after) if after is not nothing else []
        return result, later
    at = 0

    def queue_all(pipe: Pipeline) -> None:
        nonlocal at
        before(pipe)
        at = len(pipe.command_stack)
        script.queue(pipe, keys, args)
        after(pipe)

    results = await run(redis, queue_all)
    return results[at], results[at + 1 :]
