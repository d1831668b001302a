"""Everything a request handler needs, created once at start-up and passed in."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import redis.asyncio as aioredis
from fastapi import Request

from authgate_shared.redis.connection import create_redis
from authgate_shared.runtime import Clock, RandomBytes, system_clock, system_random

from .login.oidc.client import OidcLogin
from .outbound.fetch import open_document_client
from .settings import IssuerSettings
from .store.keystore import KeyRing, load_key_ring


@dataclass
class IssuerContext:
    settings: IssuerSettings
    redis: aioredis.Redis
    keys: KeyRing
    http: httpx.AsyncClient
    """Client for GitHub and OpenID Provider calls, with bounded timeouts."""
    documents: httpx.AsyncClient
    """The SSRF-safe client of client metadata documents and jwks_uri (outbound.fetch)."""
    clock: Clock
    random: RandomBytes
    started_at: float
    oidc: OidcLogin | None = None
    """The OpenID Connect login (LOGIN_PROVIDERS lists ``oidc``): one per process, so its
    provider metadata and JWKS caches are shared by every request."""

    def now(self) -> int:
        return int(self.clock())


def context_of(request: Request) -> IssuerContext:
    """The context stored on the app at start-up (for handlers too hot for ``Depends``)."""
    ctx: IssuerContext = request.app.state.ctx
    return ctx


async def get_context(request: Request) -> IssuerContext:
    """FastAPI dependency: the context stored on the app at start-up.

    ``async`` on purpose: FastAPI runs a plain ``def`` dependency in its thread pool, a thread
    hand-off on every request of every endpoint for one attribute read."""
    return context_of(request)


@contextlib.asynccontextmanager
async def open_context(
    settings: IssuerSettings,
    *,
    clock: Clock = system_clock,
    random: RandomBytes = system_random,
) -> AsyncIterator[IssuerContext]:
    """Load the key ring, open the Redis, GitHub and document clients; close them on exit.

    The app's lifespan and the admin/test code that calls issuer functions directly use this
    one constructor, so both sign with the same keys and talk to Redis the same way.
    """
    keys = await asyncio.to_thread(load_key_ring, settings)
    redis = create_redis(settings.redis)
    timeout = httpx.Timeout(settings.github.timeout, connect=min(settings.github.timeout, 5.0))
    try:
        async with (
            httpx.AsyncClient(timeout=timeout, follow_redirects=False) as http,
            open_document_client(settings.cimd) as documents,
        ):
            yield IssuerContext(
                settings=settings,
                redis=redis,
                keys=keys,
                http=http,
                documents=documents,
                clock=clock,
                random=random,
                started_at=clock(),
                oidc=OidcLogin(settings.oidc) if settings.oidc is not None else None,
            )
    finally:
        await redis.aclose()
