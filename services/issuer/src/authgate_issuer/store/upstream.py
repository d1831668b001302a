"""Storage of the upstream token vault: the sealed token in its grant's hash, and the
single-flight lock of a refresh (``oauth:upstream_refresh:{gid}``, in the grant's slot).

Both writes are compare-and-set scripts on the grant's slot: a refreshed token replaces the one
it was refreshed from only (a refresh that lost a race, or ran after the grant was revoked,
changes nothing: a plain HSET would recreate a revoked grant as a partial hash), and a lock is
released only by its holder.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from authgate_shared import redis_keys
from authgate_shared.redis.scripts import Script

# KEYS[1] grant; ARGV[1] the sealed token it was refreshed from, ARGV[2] the new one.
# 1: stored; 0: the grant is gone; 2: another refresh stored its token first.
_REPLACE = Script(
    """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[1], 'upstream_token') ~= ARGV[1] then return 2 end
redis.call('HSET', KEYS[1], 'upstream_token', ARGV[2])
return 1
"""
)
_RELEASE = Script(
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
)
STORED, GONE, RACED = 1, 0, 2


async def replace_token(redis: aioredis.Redis, grant_id: str, *, old: str, new: str) -> int:
    """STORED, GONE (grant revoked meanwhile) or RACED (``old`` is no longer current)."""
    return int(await _REPLACE(redis, keys=[redis_keys.grant(grant_id)], args=[old, new]))


async def current_sealed(redis: aioredis.Redis, grant_id: str) -> str | None:
    """The grant's sealed token now; None when the grant is gone."""
    # client_id is in every grant: its absence means the grant is gone.
    client_id, value = await redis.hmget(redis_keys.grant(grant_id), ["client_id", "upstream_token"])
    if client_id is None:
        return None
    return value.decode() if isinstance(value, bytes) else (value or "")


async def acquire(redis: aioredis.Redis, grant_id: str, *, owner: str, ttl_ms: int) -> bool:
    key = redis_keys.upstream_refresh_lock(grant_id)
    return bool(await redis.set(key, owner, nx=True, px=ttl_ms))


async def release(redis: aioredis.Redis, grant_id: str, *, owner: str) -> None:
    await _RELEASE(redis, keys=[redis_keys.upstream_refresh_lock(grant_id)], args=[owner])
