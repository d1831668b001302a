"""The user's upstream (GitHub) token as the vault keeps it: sealed in the grant.

GitHub OAuth apps issue user tokens that do not expire; GitHub Apps with expiring user tokens
issue an access token for 8 hours with a refresh token for 6 months ("Refreshing user access
tokens" in GitHub's docs), and each refresh replaces both. The sealed plain text is a JSON
object; a value sealed before the vault existed (the bare token of the membership checks) opens
as a token that does not expire, so grants from before keep working.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from authgate_shared.runtime import RandomBytes

from ..store.sealing import SealingKeys, key_id_of, open_sealed, seal


@dataclass(frozen=True)
class UpstreamToken:
    access_token: str = field(repr=False)
    refresh_token: str = field(default="", repr=False)
    expires_at: int = 0
    """Unix time the access token expires; 0: it does not (OAuth app)."""
    refresh_expires_at: int = 0
    """Unix time the refresh token expires; 0: unknown or no refresh token."""

    @property
    def expires(self) -> bool:
        return self.expires_at > 0

    def needs_refresh(self, now: int, margin: int) -> bool:
        """Expired or expiring within ``margin`` seconds: refresh before handing it out, so a
        server never receives a token that dies in its hands."""
        return self.expires and now >= self.expires_at - margin

    def refreshable(self, now: int) -> bool:
        return bool(self.refresh_token) and (
            self.refresh_expires_at == 0 or now < self.refresh_expires_at
        )

    def expires_in(self, now: int) -> int | None:
        """RFC 8693 §2.2.1 ``expires_in``; None for a token that does not expire."""
        return max(self.expires_at - now, 0) if self.expires else None


def from_response(
    *,
    access_token: str,
    refresh_token: str | None,
    expires_in: int | None,
    refresh_token_expires_in: int | None,
    now: int,
) -> UpstreamToken:
    """The token as GitHub's token endpoint gave it (lifetimes made absolute)."""
    return UpstreamToken(
        access_token=access_token,
        refresh_token=refresh_token or "",
        expires_at=now + expires_in if expires_in else 0,
        refresh_expires_at=now + refresh_token_expires_in if refresh_token_expires_in else 0,
    )


def seal_token(
    keys: SealingKeys, token: UpstreamToken, *, grant_id: str, random: RandomBytes
) -> str:
    """Sealed for grant ``grant_id`` (the associated data: it opens in no other grant)."""
    plain: dict[str, Any] = {"access_token": token.access_token}
    if token.refresh_token:
        plain["refresh_token"] = token.refresh_token
    if token.expires_at:
        plain["expires_at"] = token.expires_at
    if token.refresh_expires_at:
        plain["refresh_expires_at"] = token.refresh_expires_at
    return seal(keys, orjson.dumps(plain), associated=grant_id, random=random)


def _parse(plain: bytes) -> UpstreamToken | None:
    if not plain.startswith(b"{"):
        # Sealed by the membership checks before the vault: the bare OAuth-app token.
        return UpstreamToken(access_token=plain.decode()) if plain else None
    try:
        data = orjson.loads(plain)
        token = UpstreamToken(
            access_token=str(data["access_token"]),
            refresh_token=str(data.get("refresh_token", "")),
            expires_at=int(data.get("expires_at", 0)),
            refresh_expires_at=int(data.get("refresh_expires_at", 0)),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
    return token if token.access_token else None


def open_token(keys: SealingKeys | None, sealed: str, *, grant_id: str) -> UpstreamToken | None:
    """The token kept in grant ``grant_id``; None when there is none, no configured key opens
    it (a retired key), or it is not one of ours."""
    if not sealed or keys is None:
        return None
    plain = open_sealed(keys, sealed, associated=grant_id)
    return None if plain is None else _parse(plain)


@dataclass(frozen=True)
class TokenStatus:
    """What an operator may see of a grant's upstream token: never the token."""

    state: str
    """``none`` (not kept), ``unreadable`` (no configured key opens it), ``active``,
    ``expired`` (refreshable: renewed at the next use) or ``refresh_expired`` (dead: the user
    must sign in again)."""
    expires_at: int | None = None
    refresh_expires_at: int | None = None
    key_id: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "state": self.state,
            "expires_at": self.expires_at,
            "refresh_expires_at": self.refresh_expires_at,
            "key_id": self.key_id,
        }


def status(keys: SealingKeys | None, sealed: str, *, grant_id: str, now: int) -> TokenStatus:
    if not sealed:
        return TokenStatus(state="none")
    token = open_token(keys, sealed, grant_id=grant_id)
    key_id = key_id_of(sealed)
    if token is None:
        return TokenStatus(state="unreadable", key_id=key_id)
    state = "active"
    if token.expires and now >= token.expires_at:
        state = "expired" if token.refreshable(now) else "refresh_expired"
    return TokenStatus(
        state=state,
        expires_at=token.expires_at or None,
        refresh_expires_at=token.refresh_expires_at or None,
        key_id=key_id,
    )
