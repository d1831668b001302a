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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError
from redis.typing import EncodableT

from authgate_shared.redis.scripts import Script, load_all

T = TypeVar("T")

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


@dataclass(frozen=True, eq=False)
class Read(Generic[T]):
    """Commands queued on a pipeline and the one value their replies make: how the reads of a
    request share a round trip (``read``) yet come back by name, never by position.

    Compared by identity: a Read is the key its value is looked up by (``Replies``)."""

    queue: Queue
    replies: int
    """How many replies ``queue``'s commands give."""
    decode: Callable[[Sequence[Any]], T]

    def value(self, replies: Sequence[Any]) -> T:
        """The value of this Read's own replies (e.g. the ``after`` results of ``around_script``)."""
        if len(replies) != self.replies:
            raise ValueError(f"expected {self.replies} replies, got {len(replies)}")
        return self.decode(replies)


def one_command(queue: Queue, decode: Callable[[Any], T]) -> Read[T]:
    """A Read of one command, ``decode`` taking its reply."""
    return Read(queue, replies=1, decode=lambda replies: decode(replies[0]))


def constant(value: T) -> Read[T]:
    """A Read that sends nothing: ``value`` is known without asking Redis."""
    return Read(nothing, replies=0, decode=lambda _: value)


class Replies:
    """The values of the Reads of one pipeline, each looked up by its Read."""

    def __init__(self, values: dict[Read[Any], Any]) -> None:
        self._values = values

    def __getitem__(self, read: Read[T]) -> T:
        value: T = self._values[read]
        return value


async def read(redis: aioredis.Redis, *reads: Read[Any]) -> Replies:
    """``reads`` as one pipeline (``run``), each decoded from its own replies."""
    results = await run(redis, chain(*(each.queue for each in reads)))
    values: dict[Read[Any], Any] = {}
    start = 0
    for each in reads:
        values[each] = each.value(results[start : start + each.replies])
        start += each.replies
    if start != len(results):
        raise ValueError(f"the reads expected {start} replies, got {len(results)}")
    return Replies(values)


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
            await load_all(redis)
            continue
        for item in results:
            if isinstance(item, Exception):
                raise item
        return results
    raise NoScriptError("scripts could not be loaded")


class ScriptRun(NamedTuple):
    """What ``around_script`` returns."""

    result: Any
    """The script's result."""
    after: list[Any]
    """The results of the commands queued after the script."""


async def around_script(
    redis: aioredis.Redis,
    script: Script,
    keys: Sequence[str],
    args: Sequence[EncodableT],
    *,
    before: Queue = nothing,
    after: Queue = nothing,
) -> ScriptRun:
    """Run ``before``'s commands, then ``script``, then ``after``'s commands, in that order.

    ``before`` must be idempotent (see ``run``).
    """
    if isinstance(redis, RedisCluster):
        if before is not nothing:
            await run(redis, before)
        result = await script(redis, keys=keys, args=args)
        later = await run(redis, after) if after is not nothing else []
        return ScriptRun(result=result, after=later)
    at = 0

    def queue_all(pipe: Pipeline) -> None:
        nonlocal at
        before(pipe)
        at = len(pipe.command_stack)
        script.queue(pipe, keys, args)
        after(pipe)

    results = await run(redis, queue_all)
    return ScriptRun(result=results[at], after=results[at + 1 :])
