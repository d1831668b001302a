"""The two grant types of /token: ``authorization_code`` and ``refresh_token``.

Both end in ``issuance``; this module decides whether the request may have tokens.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any, NoReturn

from redis.asyncio.client import Pipeline

from authgate_shared import redis_keys

from .context import IssuerContext
from .oauth import pkce
from .oauth.allowlist import is_allowed
from .oauth.credentials import hash_secret, new_id, new_secret
from .oauth.errors import (
    InvalidClient,
    InvalidGrant,
    InvalidScope,
    InvalidTarget,
    UnauthorizedClient,
)
from .oauth.issuance import RefreshRefused, TokenResponse, new_grant, refresh_grant
from .oauth.params import Params
from .oauth.resource_indicators import granted_services, validate_resources
from .store import batch, clients, codes, grants
from .store.clients import ClientRecord
from .store.grants import Grant
from .web import logs, metrics
from .web.rate_limits import Hit


def narrow_resources(requested: list[str], allowed: list[str], ctx: IssuerContext) -> list[str]:
    """RFC 8707 §2.2: resources at the token endpoint may only narrow the granted ones.

    No resource requested keeps the grant's; a grant without resources (gateway-wide) may be
    narrowed to any resource of the gateway, and must be when tokens are bound to resources
    (grants from before REQUIRE_RESOURCE_TOKENS), so no token is issued that verifiers refuse.
    """
    allowed = granted_services(allowed, ctx.settings)
    if not requested and (allowed or not ctx.settings.require_resource_tokens):
        return allowed
    canonical = validate_resources(requested, ctx.settings)
    if allowed and any(resource not in allowed for resource in canonical):
        raise InvalidTarget("resource was not part of the authorization grant")
    return canonical


def narrow_scope(requested: str | None, granted: str) -> str:
    """RFC 6749 §6: a refresh may ask for a subset of the granted scope, never more."""
    if requested is None:
        return granted
    granted_set = set(granted.split())
    wanted = list(dict.fromkeys(requested.split()))
    if not wanted or any(s not in granted_set for s in wanted):
        raise InvalidScope("the requested scope exceeds the scope granted")
    return " ".join(wanted)


@dataclass(frozen=True)
class Prefetched:
    """What a token request reads before deciding, in one round trip with its rate-limit hit
    (store.batch): its client; for a refresh, the grant its refresh token names; for a code,
    the code's record, taken (GETDEL). Taking the code before the client is authenticated
    means a request refused for its rate or its credentials spends the code: one use is the
    point (OAuth 2.1 §4.1.3), and anyone holding a code can already spend it by presenting it
    from a client of their own, which is refused only after the code is taken."""

    client: ClientRecord | None
    grant: Grant | None
    code: codes.AuthorizationCode | None


async def prefetch(
    ctx: IssuerContext,
    hit: Hit | None,
    client_id: str,
    *,
    grant_id: str | None = None,
    code: str | None = None,
) -> Prefetched:
    """Count ``hit`` (429 when over), then return the client, grant and code record."""
    client_key = clients.client_key(client_id)

    def queue(pipe: Pipeline) -> None:
        if hit is not None:
            hit.queue(pipe)
        if client_key is not None:
            pipe.get(client_key)
        if grant_id is not None:
            pipe.hgetall(redis_keys.grant(grant_id))
        if code is not None:
            codes.consume(code)(pipe)

    results = await batch.run(ctx.redis, queue)
    if hit is not None:
        hit.check(results[:2])
        results = results[2:]
    client = clients.live_client(results.pop(0), ctx.clock()) if client_key else None
    grant = grants.parse_grant(grant_id, results.pop(0)) if grant_id is not None else None
    record = codes.taken(results.pop(0)) if code is not None else None
    return Prefetched(client, grant, record)


def _reread_client(client: ClientRecord) -> batch.Queue:
    key = redis_keys.client(client.client_id)

    def queue(pipe: Pipeline) -> None:
        pipe.get(key)

    return queue


async def _still_registered(
    ctx: IssuerContext, client: ClientRecord, grant_id: str, reread: list[Any]
) -> None:
    # A client deleted while its tokens were being minted: revoke_client may have run before
    # the new grant was written, so revoke it here instead of leaving live tokens behind.
    # ``reread`` is the client record read after the grant was written (_reread_client).
    if clients.live_client(reread[0], ctx.clock()) is None:
        await grants.revoke_grant(ctx.redis, grant_id)
        raise InvalidClient("the client was deleted")


async def authorization_code(
    ctx: IssuerContext, client: ClientRecord, params: Params, code: codes.AuthorizationCode | None
) -> TokenResponse:
    """OAuth 2.1 §4.1.3. ``code`` is the presented code's record, already taken (GETDEL) by
    ``prefetch``, so of concurrent redemptions exactly one can succeed, and a failed attempt
    burns the code.

    Then, in this order (store.batch), the redeemed-code marker names the grant id, one script
    writes the grant with its first access token, and the client is read again. A failure
    after GETDEL leaves the code used (one-time use is the point; the client starts a new
    authorization), never a grant without its marker: a retry with the code is a replay and revokes whatever this attempt created, so
    tokens whose response was lost do not outlive the retry.
    """
    if "authorization_code" not in client.grant_types:
        raise UnauthorizedClient("the client is not registered for authorization_code")
    code_value = params.require("code")
    if code is None:
        await _replayed(ctx, client, code_value)
        raise InvalidGrant("the authorization code is invalid, expired or already used")
    if code.client_id != client.client_id:
        raise InvalidGrant("the authorization code was issued to another client")
    redirect_uri = params.get("redirect_uri")
    if code.redirect_uri_in_request and redirect_uri != code.redirect_uri:
        raise InvalidGrant("redirect_uri does not match the authorization request")
    pkce.verify(params.get("code_verifier"), code.code_challenge)
    resources = narrow_resources(params.all("resource"), code.resources, ctx)
    made = new_grant(
        ctx,
        client_id=client.client_id,
        username=code.username,
        github_id=code.github_id,
        scope=code.scope,
        resources=resources,
        grant_id=new_id(ctx.random),
    )
    grant = made.grant
    marker = codes.mark_redeemed(
        code_value,
        grant_id=grant.grant_id,
        client_id=client.client_id,
        ttl=ctx.settings.code_lifetime,
    )
    reread = await grants.create_grant(
        ctx.redis,
        grant,
        now=grant.created_at,
        ttl=ctx.settings.refresh_token_lifetime,
        token=made.token,
        before=marker,
        after=_reread_client(client),
    )
    await _still_registered(ctx, client, grant.grant_id, reread)
    tokens = made.response(ctx)
    metrics.token_issued()
    logs.event(
        "token_issued",
        grant_type="authorization_code",
        client_id=client.client_id,
        username=code.username,
        grant_id=tokens.grant_id,
        jti=tokens.jti,
    )
    return tokens


async def _replayed(ctx: IssuerContext, client: ClientRecord, code_value: str) -> None:
    """OAuth 2.1 §4.1.3 / RFC 9700 §4.5.3.1: a second redemption revokes what the code produced,
    but only when the same client replays it (another client may be an attacker probing, and
    must not be able to revoke a victim's grant)."""
    redeemed = await codes.redeemed_grant(ctx.redis, code_value)
    if redeemed is None or redeemed[1] != client.client_id:
        return
    existed, jtis = await grants.revoke_grant(ctx.redis, redeemed[0])
    metrics.tokens_revoked(len(jtis), "code_replay")
    logs.event(
        "code_replay_detected",
        client_id=client.client_id,
        grant_id=redeemed[0],
        grant_revoked=existed,
        tokens_revoked=len(jtis),
    )


async def refresh_token(
    ctx: IssuerContext, client: ClientRecord, params: Params, grant: Grant | None
) -> TokenResponse:
    """OAuth 2.1 §4.3 with rotation and reuse detection (RFC 9700 §4.14.2). ``grant`` is the
    one the presented token names, as ``prefetch`` read it (None when absent).

    Rotation and the new access token are one script (issuance.refresh_grant): until it runs
    the presented token stays current, so a failure before it costs the client one retry, not
    its grant. A reply lost *after* it makes the retry a reuse (strict rotation, README).
    """
    presented = params.require("refresh_token")
    if grant is None or grant.client_id != client.client_id:
        # Another client's token: refused without touching the grant (bound to its client).
        raise InvalidGrant("the refresh token is invalid, expired or revoked")
    presented_hash = hash_secret(presented)
    if not hmac.compare_digest(presented_hash, grant.refresh_hash):
        # Not the current token: the script tells a rotated one (reuse: revoke) from garbage.
        rotation = await grants.rotate(
            ctx.redis,
            grant,
            presented_hash=presented_hash,
            new_hash=hash_secret(new_secret(ctx.random)),
            now=ctx.now(),
            ttl=ctx.settings.refresh_token_lifetime,
        )
        _refused(client, grant, RefreshRefused(rotation.status, rotation.revoked))
    if not is_allowed(grant.username, ctx.settings):
        await grants.revoke_grant(ctx.redis, grant.grant_id)
        logs.event(
            "grant_revoked_user_not_allowed", username=grant.username, grant_id=grant.grant_id
        )
        raise InvalidGrant("the user is no longer allowed to use this service")
    scope = narrow_scope(params.get("scope"), grant.scope)
    resources = narrow_resources(params.all("resource"), grant.resources, ctx)
    try:
        tokens, reread = await refresh_grant(
            ctx,
            grant,
            presented_hash=presented_hash,
            scope=scope,
            resources=resources,
            after=_reread_client(client),
        )
    except RefreshRefused as refused:
        # A concurrent refresh won (reuse) or the grant was revoked meanwhile (invalid).
        _refused(client, grant, refused)
    await _still_registered(ctx, client, grant.grant_id, reread)
    metrics.token_refreshed()
    logs.event(
        "token_refreshed",
        client_id=client.client_id,
        username=grant.username,
        grant_id=grant.grant_id,
        jti=tokens.jti,
    )
    return tokens


def _refused(client: ClientRecord, grant: grants.Grant, refused: RefreshRefused) -> NoReturn:
    """Report a refused rotation (a reuse revoked the grant) and answer invalid_grant."""
    if refused.status == "reuse":
        metrics.tokens_revoked(len(refused.revoked), "refresh_reuse")
        logs.event(
            "refresh_token_reuse_detected",
            client_id=client.client_id,
            username=grant.username,
            grant_id=grant.grant_id,
            tokens_revoked=len(refused.revoked),
        )
    raise InvalidGrant("the refresh token is invalid, expired or revoked")
