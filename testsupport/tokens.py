"""Real access tokens for tests, minted by the issuer's own code path (``start_grant``).

    async with TokenMinter.open(redis_url, keys_dir) as minter:
        minted = await minter.mint(resources=["https://mcp-a.example.com"])
        minted.token, minted.jti, minted.grant_id

The minter loads the issuer's key ring from ``keys_dir`` (generating it on first use, exactly as
the issuer does) and publishes the JWK Set to Redis, so a verifier reading ``oauth:jwks`` (or an
issuer started on the same ``KEYS_DIR``) accepts the tokens. ``mint_sync`` is for sync tests.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from authgate_issuer.context import IssuerContext
from authgate_issuer.oauth.issuance import start_grant
from authgate_issuer.settings import IssuerSettings
from authgate_issuer.store.keystore import publish_jwks
from authgate_shared.runtime import Clock, system_clock

from .issuer import issuer_env
from .issuer_ctx import issuer_context

DEFAULT_USER = "octocat"
DEFAULT_GITHUB_ID = "583231"
DEFAULT_CLIENT = "test-client"


@dataclass(frozen=True)
class Minted:
    token: str
    jti: str
    grant_id: str
    refresh_token: str


class TokenMinter:
    def __init__(self, ctx: IssuerContext) -> None:
        self.ctx = ctx

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        redis_url: str,
        keys_dir: Path,
        *,
        clock: Clock = system_clock,
        env: dict[str, str] | None = None,
    ) -> AsyncIterator[TokenMinter]:
        settings = IssuerSettings.from_env(issuer_env(redis_url, keys_dir, **(env or {})))
        async with issuer_context(settings, clock=clock) as ctx:
            await publish_jwks(ctx.redis, ctx.keys)
            yield cls(ctx)

    @property
    def issuer_url(self) -> str:
        return self.ctx.settings.issuer_url

    async def mint(
        self,
        *,
        resources: Sequence[str] = (),
        scope: str = "mcp:*",
        username: str = DEFAULT_USER,
        github_id: str = DEFAULT_GITHUB_ID,
        client_id: str = DEFAULT_CLIENT,
    ) -> Minted:
        response = await start_grant(
            self.ctx,
            client_id=client_id,
            username=username,
            github_id=github_id,
            scope=scope,
            resources=list(resources),
        )
        return Minted(
            token=response.access_token,
            jti=response.jti,
            grant_id=response.grant_id,
            refresh_token=response.refresh_token,
        )


def mint_sync(
    redis_url: str,
    keys_dir: Path,
    *,
    resources: Sequence[str] = (),
    scope: str = "mcp:*",
    username: str = DEFAULT_USER,
    env: dict[str, str] | None = None,
) -> Minted:
    """One token from a sync test (its own event loop)."""

    async def run() -> Minted:
        async with TokenMinter.open(redis_url, keys_dir, env=env) as minter:
            return await minter.mint(resources=resources, scope=scope, username=username)

    return asyncio.run(run())
