"""The ``refresh_token`` grant of /token (OAuth 2.1 §4.3), with rotation and reuse detection
(RFC 9700 §4.14.2).

The grant the presented token names is read in the request's first round trip
(``prefetch``); ``handle`` decides whether the token is current, and ends in ``issuance``.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Final, Literal, NoReturn

from ...context import IssuerContext
from ...store import batch, grants
from ...store.clients import ClientRecord
from ...store.grants import Grant, grant_id_of_refresh_token
from ...web import logs, metrics
from .. import membership_recheck
from ..credentials import hash_secret, new_secret
from ..errors import InvalidGrant, InvalidScope
from ..issuance import RefreshRefused, TokenResponse, refresh_grant, replayed
from ..params import Params
from ..resource_indicators import narrow_resources
from .shared import client_reread, ensure_still_registered

GRANT_TYPE: Final = "refresh_token"


@dataclass(frozen=True)
class RefreshTokenRequest:
    """A /token request of this grant type, parsed once from its form."""

    refresh_token: str = field(repr=False)
    scope: str | None
    """A narrower scope than the grant's (RFC 6749 §6); None keeps the grant's."""
    resources: tuple[str, ...]
    """RFC 8707 ``resource`` values, in order."""
    grant_type: Literal["refresh_token"] = GRANT_TYPE


def parse(params: Params) -> RefreshTokenRequest:
    """The typed request; ``invalid_request`` when ``refresh_token`` is missing."""
    return RefreshTokenRequest(
        refresh_token=params.require("refresh_token"),
        scope=params.get("scope"),
        resources=tuple(params.all("resource")),
    )


def admit(client: ClientRecord) -> None:
    """Any client holding a refresh token may use it (its grant is bound to the client)."""


def prefetch(request: RefreshTokenRequest) -> batch.Read[Grant | None]:
    """The grant the presented token names; None (nothing read) for a malformed token."""
    grant_id = grant_id_of_refresh_token(request.refresh_token)
    return batch.constant(None) if grant_id is None else grants.read_grant(grant_id)


def narrow_scope(requested: str | None, granted: str) -> str:
    """RFC 6749 §6: a refresh may ask for a subset of the granted scope, never more."""
    if requested is None:
        return granted
    granted_set = set(granted.split())
    wanted = list(dict.fromkeys(requested.split()))
    if not wanted or any(s not in granted_set for s in wanted):
        raise InvalidScope("the requested scope exceeds the scope granted")
    return " ".join(wanted)


async def handle(
    ctx: IssuerContext,
    *,
    client: ClientRecord,
    request: RefreshTokenRequest,
    prefetched: Grant | None,
) -> TokenResponse:
    """Rotate the refresh token of ``prefetched``, the grant the presented token names (None
    when absent).

    Rotation and the new access token are one script (issuance.refresh_grant): until it runs
    the presented token stays current, so a failure before it costs the client one retry, not
    its grant. A reply lost *after* it makes the retry a reuse (strict rotation, README).
    """
    grant = prefetched
    if grant is None or grant.client_id != client.client_id:
        # Another client's token: refused without touching the grant (bound to its client).
        raise InvalidGrant("the refresh token is invalid, expired or revoked")
    presented_hash = hash_secret(request.refresh_token)
    if not hmac.compare_digest(presented_hash, grant.refresh_hash):
        # Not the current token: the script tells a rotated one (reuse: revoke) from garbage.
        # Within REFRESH_REUSE_GRACE_SECONDS the preceding token gets its successor again.
        rotation = await grants.rotate(
            ctx.redis,
            grant,
            presented_hash=presented_hash,
            new_hash=hash_secret(new_secret(ctx.random)),
            now=ctx.now(),
            ttl=ctx.settings.refresh_token_lifetime,
            grace=ctx.settings.refresh_reuse_grace_seconds,
        )
        if rotation.status != "grace":
            _refused(client, grant=grant, refused=RefreshRefused(rotation.status, rotation.revoked))
        await _ensure_user_allowed(ctx, grant)
        try:
            tokens = replayed(
                ctx, rotation, presented_token=request.refresh_token, grant_id=grant.grant_id
            )
        except RefreshRefused as refused:
            _refused(client, grant=grant, refused=refused)
        logs.event(
            "refresh_token_grace_replay",
            client_id=client.client_id,
            username=grant.username,
            grant_id=grant.grant_id,
            jti=tokens.jti,
        )
        return tokens
    grant = await _ensure_user_allowed(ctx, grant)
    scope = narrow_scope(requested=request.scope, granted=grant.scope)
    resources = narrow_resources(
        requested=list(request.resources), granted=grant.resources, settings=ctx.settings
    )
    reread = client_reread(ctx, client)
    try:
        refreshed = await refresh_grant(
            ctx,
            grant,
            presented_token=request.refresh_token,
            presented_hash=presented_hash,
            scope=scope,
            resources=resources,
            after=reread.queue,
        )
    except RefreshRefused as refused:
        # A concurrent refresh won (reuse) or the grant was revoked meanwhile (invalid).
        _refused(client, grant=grant, refused=refused)
    await ensure_still_registered(
        ctx, grant_id=grant.grant_id, reread=reread.value(refreshed.after)
    )
    tokens = refreshed.tokens
    metrics.token_refreshed()
    logs.event(
        "token_refreshed",
        client_id=client.client_id,
        username=grant.username,
        grant_id=grant.grant_id,
        jti=tokens.jti,
    )
    return tokens


async def _ensure_user_allowed(ctx: IssuerContext, grant: Grant) -> Grant:
    """A user taken off ALLOWED_GITHUB_USERS, or who left every allowed GitHub organisation
    and team, loses the grant at its next refresh (oauth.membership_recheck); returns the grant
    with its groups as of this check, which the new access token carries."""
    return await membership_recheck.recheck(ctx, grant)


def _refused(client: ClientRecord, *, grant: Grant, refused: RefreshRefused) -> NoReturn:
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
