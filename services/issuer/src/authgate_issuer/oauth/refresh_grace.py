"""The refresh-token reuse grace window (``REFRESH_REUSE_GRACE_SECONDS``, off by default).

Strict rotation (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2) revokes the whole grant when a rotated
refresh token comes back. A client that refreshes from two places at once (claude.ai's egress
addresses) or loses a reply then loses its grant. With a window, the *immediately preceding*
token presented again within it gets the same successor pair the first presentation got; any
older token, or the preceding one after the window, is still reuse.

The successor pair holds two live secrets, and secrets are not kept in clear at rest: the pair
is sealed (``store.sealing``, AES-256-GCM) under a key derived (HKDF-SHA256, RFC 5869) from the
preceding refresh token itself. Redis holds only its hash, so the sealed pair opens for
whoever presents that token, the one party that may get the pair again, and for nobody reading
Redis or a backup. The grant id is the associated data: a sealed pair moved to another grant
does not open.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from authgate_shared.runtime import RandomBytes

from ..store.sealing import SealingKeys, open_sealed, seal

_INFO = b"authgate refresh-token grace v1"
_KEY_ID = "rt"  # one key per preceding token: a ring of one (store.sealing)


@dataclass(frozen=True)
class Successor:
    """The response a rotation gave: what a grace-window replay answers again."""

    access_token: str
    refresh_token: str
    scope: str
    jti: str
    exp: int
    """The access token's expiry (unix s): a replay's ``expires_in`` counts down to it."""


def _key(preceding_token: str) -> SealingKeys:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO)
    return SealingKeys(((_KEY_ID, hkdf.derive(preceding_token.encode())),))


def seal_successor(
    successor: Successor, *, preceding_token: str, grant_id: str, random: RandomBytes
) -> str:
    """The successor pair encrypted for whoever holds ``preceding_token``; ASCII."""
    plain = orjson.dumps(
        {
            "access_token": successor.access_token,
            "refresh_token": successor.refresh_token,
            "scope": successor.scope,
            "jti": successor.jti,
            "exp": successor.exp,
        }
    )
    return seal(_key(preceding_token), plain, associated=grant_id, random=random)


def open_successor(sealed: str, *, preceding_token: str, grant_id: str) -> Successor | None:
    """The successor pair, or None if ``sealed`` was not made for this token and grant."""
    plain = open_sealed(_key(preceding_token), sealed, associated=grant_id)
    if plain is None:
        return None
    try:
        data = orjson.loads(plain)
        return Successor(
            access_token=str(data["access_token"]),
            refresh_token=str(data["refresh_token"]),
            scope=str(data["scope"]),
            jti=str(data["jti"]),
            exp=int(data["exp"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
