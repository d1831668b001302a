"""store.batch: ordered steps in one pipeline, scripts by EVALSHA reloaded after a flush."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError

from authgate_issuer.store import batch
from authgate_shared.redis.scripts import Script

# Appends ARGV[1] to a list and returns its new length: order and effect are both visible.
APPEND = Script("return redis.call('RPUSH', KEYS[1], ARGV[1])")


def _around(redis_url: str, **kwargs: Any) -> tuple[Any, list[Any]]:
    async def go() -> tuple[Any, list[Any]]:
        client = aioredis.from_url(redis_url)
        try:
            return await batch.around_script(client, APPEND, ["log"], ["script"], **kwargs)
        finally:
            await client.aclose()

    return asyncio.run(go())


def _push(value: str) -> batch.Queue:
    def queue(pipe: Pipeline) -> None:
        pipe.rpush("log", value)

    return queue


def _read(pipe: Pipeline) -> None:
    pipe.lrange("log", 0, -1)


def test_before_script_after_run_in_order(redis_url: str, redis_client: redis.Redis) -> None:
    redis_client.script_load(APPEND.source)
    result, after = _around(redis_url, before=batch.chain(_push("a"), _push("b")), after=_read)
    assert result == 3
    assert after == [[b"a", b"b", b"script"]]


def test_a_flushed_script_is_loaded_and_the_batch_resent(
    redis_url: str, redis_client: redis.Redis
) -> None:
    redis_client.script_load(APPEND.source)
    redis_client.script_flush()
    result, after = _around(redis_url, before=_push("a"), after=_read)
    # The first attempt ran `before` and `after` and failed at the script; the resend ran all
    # three again (which is why `before` must be idempotent; RPUSH is not, and shows it).
    assert result == 3
    assert after == [[b"a", b"a", b"script"]]
    assert redis_client.script_exists(APPEND.sha) == [True]


def test_command_errors_are_raised(redis_url: str, redis_client: redis.Redis) -> None:
    redis_client.set("log", "not a list")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        _around(redis_url)


def test_chain_and_nothing_queue_in_order(redis_url: str, redis_client: redis.Redis) -> None:
    async def go() -> list[Any]:
        client = aioredis.from_url(redis_url)
        try:
            return await batch.run(client, batch.chain(batch.nothing, _push("x"), _read))
        finally:
            await client.aclose()

    assert asyncio.run(go()) == [1, [b"x"]]
