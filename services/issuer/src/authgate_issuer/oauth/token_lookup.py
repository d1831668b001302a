"""Finding a live token of either kind, for /revoke and /introspect.

The two kinds are told apart by shape, so ``token_type_hint`` is only a hint (RFC 7009 §2.1,
RFC 7662 §2.1 let the server search all kinds): an access token is a JWT (two dots) that must
verify against our keys and still have its record; a refresh token is ``<grant_id>.<secret>``
that must be its grant's current one (a rotated refresh token is no longer a token).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from authgate_shared import claims as jwt_claims

from ..context import IssuerContext
from ..store import grants
from .credentials import hash_secret


@dataclass(frozen=True)
class AccessToken:
    claims: dict[str, Any]

    @property
    def client_id(self) -> str:
        return str(self.claims.get("client_id", ""))


@dataclass(frozen=True)
class RefreshToken:
    grant: grants.Grant

    @property
    def client_id(self) -> str:
        return self.grant.client_id


async def find_live_token(ctx: IssuerContext, token: str) -> AccessToken | RefreshToken | None:
    if token.count(".") == 2:
        try:
            claims = jwt_claims.decode(
                token,
                keys=ctx.keys.verification_keys,
                algorithm=ctx.keys.current.algorithm,
                issuer=ctx.settings.issuer_url,
                now=ctx.clock(),
                leeway=0,
            )
        except jwt_claims.InvalidToken:
            return None
        if await grants.load_token_record(ctx.redis, str(claims["jti"])) is None:
            return None
        return AccessToken(claims)
    grant_id = grants.grant_id_of_refresh_token(token)
    grant = await grants.load_grant(ctx.redis, grant_id) if grant_id else None
    if grant is None or not hmac.compare_digest(hash_secret(token), grant.refresh_hash):
        return None
    return RefreshToken(grant)
