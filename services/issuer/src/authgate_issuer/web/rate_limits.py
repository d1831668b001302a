"""Fixed-window rate limits in Redis, shared by every replica.

Used on ``/register`` and ``/token`` per client address, and as a global cap on registrations per
hour so that a flood of RFC 7591 registrations cannot fill Redis. A fixed window is coarse but is
one ``INCR`` + ``EXPIRE`` pipeline per request and keeps no per-client state beyond the window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from redis.asyncio.client import Pipeline

from authgate_shared import redis_keys

from ..context import IssuerContext
from ..oauth.errors import TooManyRequests
from ..store import batch
from .client_address import client_address

MINUTE = 60
HOUR = 3600


@dataclass(frozen=True)
class Hit:
    """One request counted in a fixed window; its count is read with the request's other
    commands (``read``, store.batch), then checked (``check``)."""

    key: str
    limit: int
    window: int
    now: int
    message: str

    def read(self) -> batch.Read[int]:
        """Count the hit; the value is the window's count, this hit included."""

        def queue(pipe: Pipeline) -> None:
            # SET NX EX then INCR rather than EXPIRE NX, which needs Redis 7; the bundled Redis
            # of `make run` on machines without redis-server is 6.2.
            pipe.set(self.key, 0, ex=self.window + 1, nx=True)
            pipe.incr(self.key)

        def counted(replies: Sequence[Any]) -> int:
            _created, count = replies
            return int(count)

        return batch.Read(queue, replies=2, decode=counted)

    def check(self, count: int) -> None:
        """429 with Retry-After when ``count`` (this window's, from ``read``) is over the limit."""
        if count > self.limit:
            retry_after = self.window - self.now % self.window or self.window
            raise TooManyRequests(self.message, headers={"Retry-After": str(retry_after)})

    async def count(self, ctx: IssuerContext) -> None:
        """Count and check on its own (one round trip)."""
        counted = self.read()
        replies = await batch.read(ctx.redis, counted)
        self.check(replies[counted])


def address_hit(ctx: IssuerContext, request: Request, route: str, per_minute: int) -> Hit | None:
    """The hit of this request on its client address' window; None when unlimited."""
    if per_minute <= 0:
        return None
    peer = request.client.host if request.client else None
    address = client_address(
        peer, request.headers.get("x-forwarded-for"), ctx.settings.trusted_proxies
    )
    now = ctx.now()
    key = redis_keys.rate_limit(route, address, now // MINUTE)
    message = f"too many {route} requests; retry later"
    return Hit(key=key, limit=per_minute, window=MINUTE, now=now, message=message)


async def limit_per_address(
    ctx: IssuerContext, request: Request, route: str, per_minute: int
) -> None:
    """429 with Retry-After once ``per_minute`` requests came from this address in the window."""
    hit = address_hit(ctx, request, route, per_minute)
    if hit is not None:
        await hit.count(ctx)


async def cap_registrations(ctx: IssuerContext) -> None:
    """Refuse new registrations once MAX_REGISTRATIONS_PER_HOUR were made across all replicas."""
    cap = ctx.settings.max_registrations_per_hour
    if cap <= 0:
        return
    now = ctx.now()
    message = "the registration limit of this server is reached; retry later"
    key = redis_keys.registrations_counter(now // HOUR)
    await Hit(key=key, limit=cap, window=HOUR, now=now, message=message).count(ctx)
