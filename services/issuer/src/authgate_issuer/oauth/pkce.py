"""PKCE verification at the token endpoint (RFC 7636 §4.6), S256 only (OAuth 2.1 §4.1.1)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from .errors import InvalidGrant, InvalidRequest

# RFC 7636 §4.1: code-verifier = 43*128unreserved; unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"
VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def s256(verifier: str) -> str:
    """BASE64URL(SHA256(ASCII(code_verifier))) without padding (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verify(verifier: str | None, challenge: str) -> None:
    """Raise unless ``verifier`` is well-formed and hashes to ``challenge``.

    A missing parameter is ``invalid_request`` (RFC 6749 §5.2); a malformed or wrong verifier is
    ``invalid_grant`` (RFC 7636 §4.6). The comparison is constant-time.
    """
    if verifier is None:
        raise InvalidRequest("the 'code_verifier' parameter is required (PKCE, RFC 7636)")
    if VERIFIER.fullmatch(verifier) is None:
        raise InvalidGrant("code_verifier must be 43-128 characters of [A-Za-z0-9-._~]")
    if not hmac.compare_digest(s256(verifier), challenge):
        raise InvalidGrant("code_verifier does not match the code_challenge")
