"""Minting: grants, access tokens (RFC 9068 JWTs) and refresh tokens.

The only code path that creates tokens; /token uses it, and tests that need real tokens (the
verifier's included) call ``start_grant`` instead of hand-crafting JWTs.

* grant id: ``new_id``; jti: ``<grant_id>.<new_id>`` so the record key shares the grant's slot.
* refresh token: ``<grant_id>.<256-bit secret>``, opaque to clients; only its SHA-256 is stored.
* ``aud``: the canonical requested resources (RFC 8707 §2), else ``urn:authgate:gateway``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from authgate_shared import claims as jwt_claims

from .context import IssuerContext
from .credentials import hash_secret, new_id, new_secret
from .store import grants
from .store.grants import Grant


class GrantRevoked(Exception):
    """The grant disappeared while a token was being minted (revoked concurrently)."""


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


async def mint_access_token(
    ctx: IssuerContext, grant: Grant, *, scope: str, resources: list[str]
) -> tuple[str, str]:
    """Sign an access token for ``grant`` and store its record; returns (jwt, jti)."""
    now = ctx.now()
    lifetime = ctx.settings.access_token_lifetime
    jti = f"{grant.grant_id}.{new_id(ctx.random)}"
    claims = jwt_claims.build_claims(
        issuer=ctx.settings.issuer_url,
        username=grant.username,
        github_id=grant.github_id,
        client_id=grant.client_id,
        scope=scope,
        audience=list(resources),
        jti=jti,
        now=now,
        lifetime=lifetime,
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
    stored = await grants.mint_token(
        ctx.redis, jti=jti, record=record, username=grant.username, exp=claims["exp"], now=now
    )
    if not stored:
        raise GrantRevoked(grant.grant_id)
    key = ctx.keys.current
    return jwt_claims.encode(claims, key=key.key, kid=key.kid, algorithm=key.algorithm), jti


async def start_grant(
    ctx: IssuerContext,
    *,
    client_id: str,
    username: str,
    github_id: str,
    scope: str,
    resources: list[str],
) -> TokenResponse:
    """Create a grant (after a redeemed authorization code) and its first token pair.

    ``resources`` must already be validated and canonical; the grant keeps them as the upper
    bound for every later refresh (RFC 8707 §2.2: refresh may only narrow).
    """
    now = ctx.now()
    ttl = ctx.settings.refresh_token_lifetime
    grant_id = new_id(ctx.random)
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
    )
    await grants.create_grant(ctx.redis, grant, now=now, ttl=ttl)
    access_token, jti = await mint_access_token(ctx, grant, scope=scope, resources=resources)
    return TokenResponse(
        access_token=access_token,
        refresh_token=refresh_token,
        expires_in=ctx.settings.access_token_lifetime,
        scope=scope,
        grant_id=grant_id,
        jti=jti,
    )


async def refresh_grant(
    ctx: IssuerContext, grant: Grant, *, new_refresh: str, scope: str, resources: list[str]
) -> TokenResponse:
    """Mint the access token of a refresh whose rotation to ``new_refresh`` already succeeded."""
    access_token, jti = await mint_access_token(ctx, grant, scope=scope, resources=resources)
    return TokenResponse(
        access_token=access_token,
        refresh_token=new_refresh,
        expires_in=ctx.settings.access_token_lifetime,
        scope=scope,
        grant_id=grant.grant_id,
        jti=jti,
    )


__all__ = ["Grant", "GrantRevoked", "TokenResponse", "start_grant"]
