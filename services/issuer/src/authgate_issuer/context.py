"""Everything a request handler needs, created once at start-up and passed in."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import redis.asyncio as aioredis
from fastapi import Request

from authgate_shared.runtime import Clock, RandomBytes

from .keystore import KeyRing
from .settings import IssuerSettings


@dataclass
class IssuerContext:
    settings: IssuerSettings
    redis: aioredis.Redis
    keys: KeyRing
    http: httpx.AsyncClient
    """Client for GitHub calls, with bounded timeouts."""
    clock: Clock
    random: RandomBytes
    started_at: float

    def now(self) -> int:
        return int(self.clock())


def get_context(request: Request) -> IssuerContext:
    """FastAPI dependency: the context stored on the app at start-up."""
    ctx: IssuerContext = request.app.state.ctx
    return ctx
