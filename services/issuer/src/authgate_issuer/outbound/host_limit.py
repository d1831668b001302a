"""Outbound fetches per host per minute, counted in Redis so every replica shares the budget.

A client id (or ``jwks_uri``) names a host the issuer then contacts; without a bound, requests
naming one victim host would make every replica hammer it (the issuer as an amplifier), and a
slow host would tie up the issuer. Fixed window, as ``web.rate_limits``: SET NX EX then INCR
(one round trip; no Lua, and Redis 6.2 has no EXPIRE NX).
"""

from __future__ import annotations

import redis.asyncio as aioredis

from authgate_shared import redis_keys

MINUTE = 60


async def take_fetch(redis: aioredis.Redis, host: str, *, now: int, per_minute: int) -> int:
    """0 when a fetch from ``host`` may start now; else the seconds until the window ends."""
    key = redis_keys.rate_limit("cimd_fetch", host, now // MINUTE)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.set(key, 0, ex=MINUTE + 1, nx=True)
        pipe.incr(key)
        _, count = await pipe.execute()
    if int(count) <= per_minute:
        return 0
    return MINUTE - now % MINUTE or MINUTE
