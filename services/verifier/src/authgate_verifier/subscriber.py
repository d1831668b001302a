"""The revocation-cache subscriber: drops cached "live" answers when the issuer revokes.

The issuer publishes one message per revoked jti on ``redis_keys.REVOCATION_CHANNEL`` (payload:
the jti; ``grant:<id>`` or ``*`` for wider events, which clear everything). The subscriber speaks
RESP2 (``protocol=2``) because redis-py's asyncio client silently drops RESP3 push messages.
The cache is enabled only between a confirmed SUBSCRIBE and the first sign of trouble: a missed
message could otherwise keep a revoked token alive, so while the subscription is down every
request goes to Redis. A PING every few seconds detects a connection that died silently.
"""

from __future__ import annotations

import asyncio
import logging

import redis.asyncio as aioredis

from authgate_shared import redis_keys
from authgate_shared.redis.connection import REDIS_DOWN_ERRORS

from .revocation import RevocationChecker

LOG = logging.getLogger("authgate.verifier")
PING_INTERVAL = 2.0
RETRY_DELAY = 0.5


class SubscriptionLost(Exception):
    pass


LOST: tuple[type[Exception], ...] = (*REDIS_DOWN_ERRORS, SubscriptionLost)


async def _listen(pubsub: aioredis.client.PubSub, checker: RevocationChecker) -> None:
    loop = asyncio.get_running_loop()
    await pubsub.subscribe(redis_keys.REVOCATION_CHANNEL)
    last_seen = last_ping = loop.time()
    while True:
        message = await pubsub.get_message(timeout=PING_INTERVAL / 2)
        now = loop.time()
        if message is not None:
            last_seen = now
            kind = message.get("type")
            if kind == "subscribe":
                checker.set_cache_enabled(True)
            elif kind == "message":
                data = message.get("data")
                jti = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
                if jti.startswith("grant:") or jti == "*" or "." not in jti:
                    checker.invalidate_all()
                else:
                    checker.invalidate(jti)
        if now - last_seen > 2.5 * PING_INTERVAL:
            raise SubscriptionLost("no answer to PING")
        if now - last_ping >= PING_INTERVAL:
            last_ping = now
            await pubsub.ping()


async def run_subscriber(redis: aioredis.Redis, checker: RevocationChecker) -> None:
    """Keep the subscription up for as long as the service runs."""
    while True:
        pubsub = redis.pubsub()
        try:
            await _listen(pubsub, checker)
        except LOST:
            if checker.cache_enabled:
                LOG.warning("revocation subscription lost; revocation cache off until it is back")
        finally:
            checker.set_cache_enabled(False)
            await pubsub.aclose()  # type: ignore[no-untyped-call]
        await asyncio.sleep(RETRY_DELAY)
