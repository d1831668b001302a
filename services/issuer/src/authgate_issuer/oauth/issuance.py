"""Minting: grants, access tokens (RFC 9068 JWTs) and refresh tokens.

The only code path that creates tokens; /token uses it, and tests that need real tokens (the
verifier's included) call ``start_grant`` instead of hand-crafting JWTs.

* grant id: ``new_id``; jti: ``<grant_id>.<new_id>`` so the record key shares the grant's slot.
* refresh token: ``<grant_id>.<256-bit secret>``, opaque to clients; only its SHA-256 is stored.
* ``aud``: the canonical requested resources (RFC 8707 §2), else ``urn:authgate:gateway``.
* every JWT is signed before Redis is touched, and its record is stored by the same Lua script
  as the grant change it belongs to (creation or rotation), so a failure at any point leaves
  either the whole change or none of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple, Required, TypedDict, Unpack

from authgate_shared import claims as jwt_claims
from authgate_shared import redis_keys

from ..context import IssuerContext
from ..store import batch, grants
from ..store.grants import Grant
from . import refresh_grace
from .credentials import hash_secret, new_id, new_secret


class GrantRevoked(Exception):
    """The grant disappeared while a token was being minted (revoked concurrently)."""


class RefreshRefused(Exception):
    """The presented refresh token was not current: ``status`` is "invalid" or "reuse" (then
    ``revoked`` lists the access tokens revoked with the grant)."""

    def __init__(self, status: str, revoked: list[str]) -> None:
        super().__init__(status)
        self.status, self.revoked = status, revoked


@dataclass(frozen=True)
class TokenResponse:
    """A successful token response (RFC 6749 §5.1) plus ids useful to callers and tests."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: int
    scope: str
    grant_id: str
    jti: str
    token_type: str = "Bearer"

    def body(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
            "scope": self.scope,
        }


def new_refresh_token(ctx: IssuerContext, grant_id: str) -> str:
    return f"{grant_id}.{new_secret(ctx.random)}"


def sign_access_token(
    ctx: IssuerContext, grant: Grant, *, scope: str, resources: list[str], now: int
) -> tuple[str, grants.NewToken]:
    """Choose jti and exp and sign the JWT; returns (jwt, record to store). No Redis here, so
    the record can be written by the same script as the grant change it belongs to."""
    jti = f"{grant.grant_id}.{new_id(ctx.random)}"
    oidc = grant.provider == "oidc"  # sub = oidc|<provider subject> (login.oidc.identity)
    claims = jwt_claims.build_claims(
        issuer=ctx.settings.issuer_url,
        username=grant.username,
        github_id=grant.github_id,
        client_id=grant.client_id,
        scope=scope,
        audience=list(resources),
        jti=jti,
        now=now,
        lifetime=ctx.settings.access_token_lifetime,
        # RFC 9068 §2.2.3.1: only when organisations or teams are checked, as of the grant's
        # last membership check (login, or this refresh's re-check); an OpenID Connect grant's
        # groups are those of its sign-in.
        groups=grant.groups if oidc or ctx.settings.github.checks_membership else None,
        sub=grant.github_id if oidc else None,
    )
    # The seed's record fields, plus aud so introspection and admin tools can show it.
    record: dict[str, object] = {
        "client_id": grant.client_id,
        "user_id": grant.username,
        "scope": scope,
        "aud": claims["aud"],
        "created_at": now,
        "expires_at": claims["exp"],
    }
    key = ctx.keys.current
    signed = jwt_claims.encode(claims, key=key.key, kid=key.kid, algorithm=key.algorithm)
    return signed, grants.NewToken(
        jti=jti, record=record, username=grant.username, exp=claims["exp"]
    )


async def mint_access_token(
    ctx: IssuerContext, grant: Grant, *, scope: str, resources: list[str]
) -> tuple[str, str]:
    """One more access token for an existing ``grant``; returns (jwt, jti)."""
    now = ctx.now()
    access_token, token = sign_access_token(ctx, grant, scope=scope, resources=resources, now=now)
    stored = await grants.mint_token(
        ctx.redis,
        jti=token.jti,
        record=token.record,
        username=token.username,
        exp=token.exp,
        now=now,
    )
    if not stored:
        raise GrantRevoked(grant.grant_id)
    return access_token, token.jti


def _response(
    ctx: IssuerContext, access_token: str, refresh_token: str, scope: str, token: grants.NewToken
) -> TokenResponse:
    return TokenResponse(
        access_token=access_token,
        refresh_token=refresh_token,
        expires_in=ctx.settings.access_token_lifetime,
        scope=scope,
        grant_id=redis_keys.grant_id_of_jti(token.jti),
        jti=token.jti,
    )


@dataclass(frozen=True)
class NewGrant:
    """A grant and its first token pair, signed but not yet stored (``grants.create_grant``)."""

    grant: Grant
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    token: grants.NewToken

    def response(self, ctx: IssuerContext) -> TokenResponse:
        return _response(ctx, self.access_token, self.refresh_token, self.grant.scope, self.token)


def new_grant(
    ctx: IssuerContext,
    *,
    client_id: str,
    username: str,
    github_id: str,
    scope: str,
    resources: list[str],
    grant_id: str | None = None,
    groups: list[str] | None = None,
    membership_checked_at: int = 0,
    upstream_token: str = "",
    provider: str = "github",
    email: str = "",
) -> NewGrant:
    """A grant (after a redeemed authorization code) and its first token pair, signed.

    ``resources`` must already be validated and canonical; the grant keeps them as the upper
    bound for every later refresh (RFC 8707 §2.2: refresh may only narrow). ``grant_id`` lets
    the caller record it before anything exists (see grants.authorization_code). ``groups``,
    ``membership_checked_at`` and ``upstream_token`` (sealed for ``grant_id``) come from the
    login's membership check (login.access).
    """
    now = ctx.now()
    ttl = ctx.settings.refresh_token_lifetime
    grant_id = grant_id or new_id(ctx.random)
    refresh_token = new_refresh_token(ctx, grant_id)
    grant = Grant(
        grant_id=grant_id,
        client_id=client_id,
        username=username,
        github_id=github_id,
        scope=scope,
        resources=list(resources),
        created_at=now,
        expiry=now + ttl,
        refresh_issued_at=now,
        refresh_hash=hash_secret(refresh_token),
        groups=list(groups or []),
        membership_checked_at=membership_checked_at,
        upstream_token=upstream_token,
        provider=provider,
        email=email,
    )
    access_token, token = sign_access_token(ctx, grant, scope=scope, resources=resources, now=now)
    return NewGrant(grant, access_token, refresh_token, token)


class GrantRequest(TypedDict, total=False):
    """What ``new_grant`` and ``start_grant`` take besides the context."""

    client_id: Required[str]
    username: Required[str]
    github_id: Required[str]
    scope: Required[str]
    resources: Required[list[str]]
    grant_id: str | None
    groups: list[str] | None
    membership_checked_at: int
    upstream_token: str
    provider: str
    email: str


async def start_grant(ctx: IssuerContext, **request: Unpack[GrantRequest]) -> TokenResponse:
    """Create and store a grant and its first token pair (``new_grant``): one script writes
    both, so both exist or neither does."""
    made = new_grant(ctx, **request)
    grant = made.grant
    ttl = ctx.settings.refresh_token_lifetime
    await grants.create_grant(ctx.redis, grant, now=grant.created_at, ttl=ttl, token=made.token)
    return made.response(ctx)


class Refreshed(NamedTuple):
    """What ``refresh_grant`` returns."""

    tokens: TokenResponse
    after: list[Any]
    """The results of the commands queued to run after the rotation (``after``)."""


async def refresh_grant(
    ctx: IssuerContext,
    grant: Grant,
    *,
    presented_token: str,
    presented_hash: str,
    scope: str,
    resources: list[str],
    after: batch.Queue = batch.nothing,
) -> Refreshed:
    """OAuth 2.1 §4.3.1: rotate the refresh token and mint the new access token as one step.

    The JWT is signed first; one script on the grant's slot then swaps the refresh-token hash
    and stores the access-token record. A failure before the script leaves the presented token
    current, so the client's retry succeeds; raises ``RefreshRefused`` unless it rotated.
    Returns the response and the results of ``after``, run once the script has (store.batch).
    Within ``REFRESH_REUSE_GRACE_SECONDS`` a concurrent refresh that lost the race gets the
    winner's pair (oauth.refresh_grace) instead of ``RefreshRefused("reuse")``.
    """
    now = ctx.now()
    new_refresh = new_refresh_token(ctx, grant.grant_id)
    access_token, token = sign_access_token(ctx, grant, scope=scope, resources=resources, now=now)
    grace = ctx.settings.refresh_reuse_grace_seconds
    sealed = ""
    if grace:
        successor = refresh_grace.Successor(
            access_token=access_token,
            refresh_token=new_refresh,
            scope=scope,
            jti=token.jti,
            exp=token.exp,
        )
        sealed = refresh_grace.seal_successor(
            successor, preceding_token=presented_token, grant_id=grant.grant_id, random=ctx.random
        )
    rotation = await grants.rotate(
        ctx.redis,
        grant,
        presented_hash=presented_hash,
        new_hash=hash_secret(new_refresh),
        now=now,
        ttl=ctx.settings.refresh_token_lifetime,
        token=token,
        grace=grace,
        sealed=sealed,
        after=after,
    )
    if rotation.status == "grace":
        tokens = replayed(ctx, rotation, presented_token=presented_token, grant_id=grant.grant_id)
        return Refreshed(tokens=tokens, after=rotation.after)
    if rotation.status != "ok":
        raise RefreshRefused(rotation.status, rotation.revoked)
    tokens = _response(ctx, access_token, new_refresh, scope, token)
    return Refreshed(tokens=tokens, after=rotation.after)


def replayed(
    ctx: IssuerContext, rotation: grants.Rotation, *, presented_token: str, grant_id: str
) -> TokenResponse:
    """The pair a rotation gave, answered again to its preceding token within the grace
    window (rotation status "grace"); ``expires_in`` counts down to the same ``exp``."""
    successor = refresh_grace.open_successor(
        rotation.sealed or "", preceding_token=presented_token, grant_id=grant_id
    )
    if successor is None:
        # Only a sealed value not made for this token could get here (the hashes matched):
        # refuse without revoking anything.
        raise RefreshRefused("invalid", [])
    return TokenResponse(
        access_token=successor.access_token,
        refresh_token=successor.refresh_token,
        expires_in=max(successor.exp - ctx.now(), 0),
        scope=successor.scope,
        grant_id=grant_id,
        jti=successor.jti,
    )


__all__ = [
    "Grant",
    "GrantRevoked",
    "NewGrant",
    "RefreshRefused",
    "Refreshed",
    "TokenResponse",
    "start_grant",
]
