"""An ``IssuerContext`` outside the app, for tests that call issuer code directly.

It loads the key ring exactly as the app does (same ``KEYS_DIR``), so tokens minted here verify
against the app started from the same settings, and vice versa.

    async with issuer_context(settings) as ctx:
        tokens = await start_grant(ctx, client_id=..., username=..., ...)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx

from authgate_issuer.context import IssuerContext
from authgate_issuer.keystore import load_key_ring
from authgate_issuer.settings import IssuerSettings
from authgate_shared.redis_conn import create_redis
from authgate_shared.runtime import Clock, RandomBytes, system_clock, system_random


@contextlib.asynccontextmanager
async def issuer_context(
    settings: IssuerSettings,
    *,
    clock: Clock = system_clock,
    random: RandomBytes = system_random,
) -> AsyncIterator[IssuerContext]:
    keys = await asyncio.to_thread(load_key_ring, settings)
    redis = create_redis(settings.redis)
    try:
        async with httpx.AsyncClient() as http:
            yield IssuerContext(
                settings=settings,
                redis=redis,
                keys=keys,
                http=http,
                clock=clock,
                random=random,
                started_at=clock(),
            )
    finally:
        await redis.aclose()
