"""Fixed-window rate limits in Redis, shared by every replica.

Used on ``/register`` and ``/token`` per client address, and as a global cap on registrations per
hour so that a flood of RFC 7591 registrations cannot fill Redis. A fixed window is coarse but is
one ``INCR`` + ``EXPIRE`` pipeline per request and keeps no per-client state beyond the window.
"""

from __future__ import annotations

from fastapi import Request

from authgate_shared import redis_keys

from .client_address import client_address
from .context import IssuerContext
from .errors import TooManyRequests

MINUTE = 60
HOUR = 3600


async def _hit(ctx: IssuerContext, key: str, window: int) -> int:
    # SET NX EX then INCR rather than EXPIRE NX, which needs Redis 7; the bundled Redis of
    # `make run` on machines without redis-server is 6.2.
    async with ctx.redis.pipeline(transaction=False) as pipe:
        pipe.set(key, 0, ex=window + 1, nx=True)
        pipe.incr(key)
        _, count = await pipe.execute()
    return int(count)


def _retry_after(now: int, window: int) -> str:
    return str(window - now % window or window)


async def limit_per_address(
    ctx: IssuerContext, request: Request, route: str, per_minute: int
) -> None:
    """429 with Retry-After once ``per_minute`` requests came from this address in the window."""
    if per_minute <= 0:
        return
    peer = request.client.host if request.client else None
    address = client_address(
        peer, request.headers.get("x-forwarded-for"), ctx.settings.trusted_proxies
    )
    now = ctx.now()
    key = redis_keys.rate_limit(route, address, now // MINUTE)
    if await _hit(ctx, key, MINUTE) > per_minute:
        raise TooManyRequests(
            f"too many {route} requests; retry later",
            headers={"Retry-After": _retry_after(now, MINUTE)},
        )


async def cap_registrations(ctx: IssuerContext) -> None:
    """Refuse new registrations once MAX_REGISTRATIONS_PER_HOUR were made across all replicas."""
    cap = ctx.settings.max_registrations_per_hour
    if cap <= 0:
        return
    now = ctx.now()
    if await _hit(ctx, redis_keys.registrations_counter(now // HOUR), HOUR) > cap:
        raise TooManyRequests(
            "the registration limit of this server is reached; retry later",
            headers={"Retry-After": _retry_after(now, HOUR)},
        )
