"""Is a token still live? ``EXISTS oauth:token:{jti}``, coalesced across concurrent requests.

The one network round trip on the hot path. redis-py's client-side cost per command dominates
(~55-60 µs per call under concurrency), so the checks of every request that arrives while a
round trip is in flight are sent together, and at most one batch is in flight: the batch grows
with the load. On standalone and Sentinel Redis a batch is one EVALSHA running EXISTS for each
key and returning one array: one request and one reply to parse, which measured 3-5x cheaper per
key than a pipeline of N EXISTS (N replies, each parsed through redis-py's async reader). On
Redis Cluster, where the keys of different grants live in different slots, the batch is a
pipeline of EXISTS, which the Cluster client splits per node.

Optionally (``REVOCATION_CACHE_MS`` > 0) a positive answer is reused for that many ms. The issuer
publishes every revoked jti on ``redis_keys.REVOCATION_CHANNEL``; a message drops the entry at
once, and the whole cache is off while the subscription is down (see ``subscriber.py``).
"""

from __future__ import annotations

import asyncio
import sys

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from authgate_shared.redis.connection import REDIS_DOWN_ERRORS
from authgate_shared.redis.scripts import Script
from authgate_shared.runtime import Clock

from .errors import RedisUnavailable

MAX_BATCH = 1024
# Read-only: EXISTS of every key, in order (1 = live, 0 = revoked or expired).
EXISTS_ALL = Script(
    "local r = {} for i, k in ipairs(KEYS) do r[i] = redis.call('EXISTS', k) end return r"
)
MAX_CACHED = 100_000


class RevocationChecker:
    def __init__(self, redis: aioredis.Redis, *, cache_ms: int, monotonic: Clock) -> None:
        self._redis = redis
        # A script needs all its keys in one slot, which a Cluster batch never has.
        self._script = None if isinstance(redis, RedisCluster) else EXISTS_ALL
        self._cache_s = cache_ms / 1000
        self._monotonic = monotonic
        self._pending: list[tuple[str, str, asyncio.Future[bool]]] = []
        self._runner: asyncio.Task[None] | None = None
        # jti -> monotonic deadline of a cached "live" answer.
        self._cache: dict[str, float] = {}
        self.cache_enabled = False
        # Bumped on every invalidation: a batch that straddles one does not fill the cache, so
        # an answer read just before a revocation cannot be cached just after its message.
        self._generation = 0
        self.pipelines = 0

    def cached_live(self, jti: str) -> bool:
        """A recent check said live and no revocation message since: no await needed (the
        hot path skips a coroutine per request with the cache on)."""
        if not self.cache_enabled:
            return False
        deadline = self._cache.get(jti)
        return deadline is not None and deadline > self._monotonic()

    async def is_live(self, jti: str, key: str) -> bool:
        """True if the token record exists; RedisUnavailable if Redis does not answer."""
        if self.cached_live(jti):
            return True
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((jti, key, future))
        if self._runner is None:
            # The task's first step runs on the next loop iteration, after every request made
            # ready in this one has queued its check: that is the coalescing.
            self._runner = asyncio.ensure_future(self._run())
        return await future

    async def _run(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                await self._check(batch)
        finally:
            self._runner = None

    async def _check(self, batch: list[tuple[str, str, asyncio.Future[bool]]]) -> None:
        generation = self._generation
        try:
            if self._script is not None:
                results = await self._script(self._redis, keys=[key for _, key, _ in batch])
            else:
                pipe = self._redis.pipeline(transaction=False)
                for _, key, _ in batch:
                    pipe.exists(key)
                results = await pipe.execute()
        except BaseException:
            # Redis down (or shutdown): fail every waiter of the batch, none may hang.
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(RedisUnavailable("revocation check failed"))
            if isinstance(sys.exc_info()[1], REDIS_DOWN_ERRORS):
                return
            raise
        self.pipelines += 1
        fill = self.cache_enabled and generation == self._generation
        deadline = self._monotonic() + self._cache_s
        for (jti, _, future), exists in zip(batch, results, strict=True):
            if exists and fill:
                self._cache[jti] = deadline
            if not future.done():
                future.set_result(bool(exists))
        if len(self._cache) > MAX_CACHED:
            self._cache.clear()

    # Called by the subscriber.

    def set_cache_enabled(self, enabled: bool) -> None:
        self.cache_enabled = enabled and self._cache_s > 0
        self.invalidate_all()

    def invalidate(self, jti: str) -> None:
        self._generation += 1
        self._cache.pop(jti, None)

    def invalidate_all(self) -> None:
        self._generation += 1
        self._cache.clear()
