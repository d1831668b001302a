"""The revocation check: coalesced into one round trip, fail-closed as 503, optional cache
dropped by the issuer's pub/sub message and disabled while the subscription is down."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from authgate_shared import redis_keys
from authgate_shared.redis.connection import RedisSettings, create_pubsub_client, create_redis
from authgate_verifier.errors import RedisUnavailable
from authgate_verifier.revocation import RevocationChecker
from authgate_verifier.subscriber import run_subscriber
from testsupport.redis_server import RedisServer

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def wait_for(predicate: Callable[[], bool], limit: float = 5.0) -> None:
    async with asyncio.timeout(limit):
        while not predicate():  # noqa: ASYNC110 - polling state another task changes
            await asyncio.sleep(0.01)


async def test_concurrent_checks_share_one_round_trip(
    redis_url: str, redis_client: redis.Redis
) -> None:
    jtis = [f"g{i}.n{i}" for i in range(50)]
    for jti in jtis[::2]:
        redis_client.set(redis_keys.token(jti), b"{}")
    client = create_redis(RedisSettings(url=redis_url))
    checker = RevocationChecker(client, cache_ms=0, monotonic=FakeMonotonic())
    try:
        results = await asyncio.gather(*(checker.is_live(j, redis_keys.token(j)) for j in jtis))
        assert results == [i % 2 == 0 for i in range(50)]
        assert checker.pipelines == 1
        # No cache: the next check goes to Redis again and sees a deletion at once.
        redis_client.delete(redis_keys.token(jtis[0]))
        assert await checker.is_live(jtis[0], redis_keys.token(jtis[0])) is False
        assert checker.pipelines == 2
    finally:
        await client.aclose()


async def test_redis_down_raises_unavailable(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "r").start()
    client = create_redis(RedisSettings(url=server.url, connect_timeout=0.2))
    checker = RevocationChecker(client, cache_ms=0, monotonic=FakeMonotonic())
    try:
        assert await checker.is_live("g.n", redis_keys.token("g.n")) is False
        server.kill()
        with pytest.raises(RedisUnavailable):
            await asyncio.gather(
                *(checker.is_live("g.n", redis_keys.token("g.n")) for _ in range(5))
            )
        server.start()
        assert await checker.is_live("g.n", redis_keys.token("g.n")) is False
    finally:
        server.stop()
        await client.aclose()


async def test_cache_dropped_by_revocation_message(
    redis_url: str, redis_client: redis.Redis
) -> None:
    settings = RedisSettings(url=redis_url)
    client, sub_client = create_redis(settings), create_pubsub_client(settings)
    clock = FakeMonotonic()
    checker = RevocationChecker(client, cache_ms=60_000, monotonic=clock)
    task = asyncio.ensure_future(run_subscriber(sub_client, checker))
    key_a, key_b = redis_keys.token("ga.a"), redis_keys.token("gb.b")
    redis_client.set(key_a, b"{}")
    redis_client.set(key_b, b"{}")
    try:
        await wait_for(lambda: checker.cache_enabled)
        assert not checker.cached_live("ga.a")
        assert await checker.is_live("ga.a", key_a) and await checker.is_live("gb.b", key_b)
        assert checker.cached_live("ga.a") and checker.cached_live("gb.b")
        sent = checker.pipelines
        # Deleted without a message: the cache answers (that is the documented trade-off).
        redis_client.delete(key_a, key_b)
        assert await checker.is_live("ga.a", key_a) is True
        assert checker.pipelines == sent
        # The issuer's message for one jti drops that entry only.
        redis_client.publish(redis_keys.REVOCATION_CHANNEL, "ga.a")
        await wait_for(lambda: "ga.a" not in checker._cache)
        assert not checker.cached_live("ga.a") and checker.cached_live("gb.b")
        assert await checker.is_live("ga.a", key_a) is False
        assert await checker.is_live("gb.b", key_b) is True
        # Entries expire after REVOCATION_CACHE_MS.
        clock.now += 61
        assert not checker.cached_live("gb.b")
        assert await checker.is_live("gb.b", key_b) is False
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.aclose()
        await sub_client.aclose()


async def test_cache_disabled_while_subscription_is_down(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "r", appendonly=True).start()
    settings = RedisSettings(url=server.url, connect_timeout=0.2)
    client, sub_client = create_redis(settings), create_pubsub_client(settings)
    checker = RevocationChecker(client, cache_ms=60_000, monotonic=FakeMonotonic())
    task = asyncio.ensure_future(run_subscriber(sub_client, checker))
    key = redis_keys.token("g.n")
    try:
        server.client().set(key, b"{}")
        await wait_for(lambda: checker.cache_enabled)
        assert await checker.is_live("g.n", key) is True
        server.kill()
        await wait_for(lambda: not checker.cache_enabled)
        assert not checker.cached_live("g.n")
        # A cached "live" must not be served while revocations could be missed: 503 instead.
        with pytest.raises(RedisUnavailable):
            await checker.is_live("g.n", key)
        server.start()
        await wait_for(lambda: checker.cache_enabled, limit=10)
        assert await checker.is_live("g.n", key) is True
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.aclose()
        await sub_client.aclose()
        server.stop()


async def test_batch_straddling_a_revocation_is_not_cached(
    redis_url: str, redis_client: redis.Redis
) -> None:
    client = create_redis(RedisSettings(url=redis_url))
    checker = RevocationChecker(client, cache_ms=60_000, monotonic=FakeMonotonic())
    checker.set_cache_enabled(True)
    key = redis_keys.token("g.n")
    redis_client.set(key, b"{}")
    try:
        pending = asyncio.ensure_future(checker.is_live("g.n", key))
        await asyncio.sleep(0)
        while checker._pending:  # noqa: ASYNC110 - the batch is taken and sent...
            await asyncio.sleep(0)
        checker.invalidate("g.n")  # ...and a revocation message arrives before its answer
        assert await pending is True
        assert "g.n" not in checker._cache
        assert await checker.is_live("g.n", key) is True
        assert "g.n" in checker._cache
    finally:
        await client.aclose()
