"""A grant's upstream token, usable now: opened from the vault and, when it expires within
``REFRESH_MARGIN`` (GitHub Apps' 8-hour user tokens), refreshed first — once across every
replica.

GitHub rotates the refresh token on every refresh ("Refreshing user access tokens"), so two
replicas refreshing the same grant at once would spend it twice and the second would be told
``bad_refresh_token``. One replica takes the grant's refresh lock (SET NX with a TTL, store.
upstream), reads the token again (another may have refreshed just before), refreshes and
stores the result with a compare-and-set; the others wait for the new token to appear.

A refresh token GitHub refuses (the user revoked the app, or it expired unused for six months)
means the grant can no longer act upstream: the grant is revoked (with its access tokens, which
the verifiers learn at once) and the user signs in again.
"""

from __future__ import annotations

import asyncio

from ..context import IssuerContext
from ..login import github
from ..oauth.credentials import new_id
from ..store import grants, upstream
from ..store.grants import Grant
from ..web import logs, metrics
from .tokens import UpstreamToken, from_response, open_token, seal_token

REFRESH_MARGIN = 300
"""Seconds a token handed out still lives at least (refreshed before otherwise)."""
POLL_SECONDS = 0.05


class VaultError(Exception):
    outcome = "unavailable"


class NoUpstreamToken(VaultError):
    """The grant keeps no upstream token one of our keys opens (signed in before the vault was
    configured, or sealed under a retired key): the user must sign in again."""

    outcome = "no_token"


class UpstreamRevoked(VaultError):
    """GitHub refused the refresh token, or the grant is gone: the grant is revoked."""

    outcome = "revoked"


class UpstreamUnavailable(VaultError):
    """GitHub could not refresh the token now (or another replica's refresh did not finish)."""


async def usable(ctx: IssuerContext, grant: Grant) -> UpstreamToken:
    """The grant's upstream token with at least ``REFRESH_MARGIN`` seconds to live (or one
    that does not expire); raises a VaultError otherwise."""
    token = _open(ctx, grant.grant_id, grant.upstream_token)
    if not token.needs_refresh(ctx.now(), REFRESH_MARGIN):
        return token
    return await _refreshed_once(ctx, grant.grant_id, sealed=grant.upstream_token)


def _open(ctx: IssuerContext, grant_id: str, sealed: str) -> UpstreamToken:
    token = open_token(ctx.settings.github.token_keys, sealed, grant_id=grant_id)
    if token is None:
        raise NoUpstreamToken("this grant keeps no upstream token; the user must sign in again")
    return token


async def _refreshed_once(ctx: IssuerContext, grant_id: str, *, sealed: str) -> UpstreamToken:
    owner = new_id(ctx.random)
    # The lock outlives the GitHub call it guards (bounded by GITHUB_TIMEOUT_MS), so it never
    # expires under a live refresh; waiters give up a little after it would have.
    lock_ms = int(ctx.settings.github.timeout * 1000) + 5000
    loop = asyncio.get_running_loop()
    give_up = loop.time() + lock_ms / 1000 + 1
    while True:
        if await upstream.acquire(ctx.redis, grant_id, owner=owner, ttl_ms=lock_ms):
            try:
                return await _refresh_holding_lock(ctx, grant_id, sealed=sealed)
            finally:
                await upstream.release(ctx.redis, grant_id, owner=owner)
        await asyncio.sleep(POLL_SECONDS)
        fresh = await _refreshed_by_another(ctx, grant_id, sealed=sealed)
        if fresh is not None:
            return fresh
        if loop.time() > give_up:
            raise UpstreamUnavailable("another replica's refresh of the upstream token stalled")


async def _refreshed_by_another(
    ctx: IssuerContext, grant_id: str, *, sealed: str
) -> UpstreamToken | None:
    """The token another replica stored since ``sealed`` was read, when it is fresh."""
    current = await upstream.current_sealed(ctx.redis, grant_id)
    if current is None:
        raise UpstreamRevoked("the grant was revoked")
    if current == sealed:
        return None
    token = _open(ctx, grant_id, current)
    return None if token.needs_refresh(ctx.now(), REFRESH_MARGIN) else token


async def _refresh_holding_lock(ctx: IssuerContext, grant_id: str, *, sealed: str) -> UpstreamToken:
    current = await upstream.current_sealed(ctx.redis, grant_id)
    if current is None:
        raise UpstreamRevoked("the grant was revoked")
    token = _open(ctx, grant_id, current)
    now = ctx.now()
    if current != sealed and not token.needs_refresh(now, REFRESH_MARGIN):
        return token  # refreshed by another replica between our read and the lock
    if not token.refreshable(now):
        await _revoke(ctx, grant_id, reason="the upstream token expired and cannot be refreshed")
        raise UpstreamRevoked("the upstream token expired; the user must sign in again")
    try:
        tokens = await github.refresh_tokens(ctx.http, ctx.settings, token.refresh_token)
    except github.GitHubDenied:
        await _revoke(ctx, grant_id, reason="GitHub refused the refresh token")
        raise UpstreamRevoked("GitHub refused the upstream refresh token") from None
    except github.GitHubUnavailable as exc:
        metrics.upstream("refresh", "unavailable")
        raise UpstreamUnavailable(f"GitHub is unavailable ({exc})") from None
    except github.GitHubError as exc:
        metrics.upstream("refresh", "unavailable")
        logs.LOGGER.error("GitHub refresh of an upstream token failed: %s", exc)
        raise UpstreamUnavailable("GitHub did not refresh the upstream token") from None
    fresh = from_response(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
        refresh_token_expires_in=tokens.refresh_token_expires_in,
        now=now,
    )
    keys = ctx.settings.github.token_keys
    assert keys is not None  # _open succeeded, so keys are configured
    new_sealed = seal_token(keys, fresh, grant_id=grant_id, random=ctx.random)
    stored = await upstream.replace_token(ctx.redis, grant_id, old=current, new=new_sealed)
    if stored == upstream.GONE:
        raise UpstreamRevoked("the grant was revoked during the refresh")
    metrics.upstream("refresh", "ok")
    logs.event("upstream_token_refreshed", grant_id=grant_id, expires_at=fresh.expires_at)
    return fresh


async def _revoke(ctx: IssuerContext, grant_id: str, *, reason: str) -> None:
    existed, jtis = await grants.revoke_grant(ctx.redis, grant_id)
    metrics.upstream("refresh", "revoked")
    if existed:
        metrics.tokens_revoked(len(jtis), reason="upstream_revoked")
    logs.event("grant_revoked_upstream_refused", grant_id=grant_id, reason=reason)
