"""The refresh-token reuse grace window (``REFRESH_REUSE_GRACE_SECONDS``, off by default).

Strict rotation (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2) revokes the whole grant when a rotated
refresh token comes back. A client that refreshes from two places at once (claude.ai's egress
addresses) or loses a reply then loses its grant. With a window, the *immediately preceding*
token presented again within it gets the same successor pair the first presentation got; any
older token, or the preceding one after the window, is still reuse.

The successor pair holds two live secrets, and secrets are not kept in clear at rest: the pair
is sealed with AES-256-GCM (NIST SP 800-38D) under a key derived (HKDF-SHA256, RFC 5869) from
the preceding refresh token itself. Redis holds only its hash, so the sealed pair opens for
whoever presents that token, the one party that may get the pair again, and for nobody reading
Redis or a backup. The grant id is the associated data: a sealed pair moved to another grant
does not open.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from authgate_shared.runtime import RandomBytes

_INFO = b"authgate refresh-token grace v1"
_NONCE_BYTES = 12  # the GCM nonce length SP 800-38D §5.2.1.1 recommends


@dataclass(frozen=True)
class Successor:
    """The response a rotation gave: what a grace-window replay answers again."""

    access_token: str
    refresh_token: str
    scope: str
    jti: str
    exp: int
    """The access token's expiry (unix s): a replay's ``expires_in`` counts down to it."""


def _key(preceding_token: str) -> AESGCM:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO)
    return AESGCM(hkdf.derive(preceding_token.encode()))


def seal(successor: Successor, *, preceding_token: str, grant_id: str, random: RandomBytes) -> str:
    """The successor pair encrypted for whoever holds ``preceding_token``; ASCII."""
    nonce = random(_NONCE_BYTES)
    plain = orjson.dumps(
        {
            "access_token": successor.access_token,
            "refresh_token": successor.refresh_token,
            "scope": successor.scope,
            "jti": successor.jti,
            "exp": successor.exp,
        }
    )
    sealed = _key(preceding_token).encrypt(nonce, plain, grant_id.encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def open_sealed(sealed: str, *, preceding_token: str, grant_id: str) -> Successor | None:
    """The successor pair, or None if ``sealed`` was not made for this token and grant."""
    try:
        raw = base64.urlsafe_b64decode(sealed.encode("ascii"))
        nonce, body = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
        data = orjson.loads(_key(preceding_token).decrypt(nonce, body, grant_id.encode()))
        return Successor(
            access_token=str(data["access_token"]),
            refresh_token=str(data["refresh_token"]),
            scope=str(data["scope"]),
            jti=str(data["jti"]),
            exp=int(data["exp"]),
        )
    except (InvalidTag, ValueError, KeyError, TypeError, UnicodeError):
        return None
