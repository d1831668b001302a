"""``claims.decode`` at its edges: the leeway to the second, the injected clock only, required
claims, and malformed payloads under a well-formed header (RFC 7519 §4.1, RFC 9068 §4)."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from authgate_shared import claims
from authgate_shared.keys import signing_key

KEY = rsa.generate_private_key(65537, 2048)
SIGNING = signing_key(KEY)
KEYS: dict[str, Any] = {SIGNING.kid: KEY.public_key()}
NOW = 1_800_000_000
ISS = "https://auth.example.com"
LEEWAY = 30  # decode's default


def token(now: int = NOW, **overrides: Any) -> str:
    body: dict[str, Any] = dict(
        claims.build_claims(
            issuer=ISS,
            username="octocat",
            github_id="1",
            client_id="c",
            scope="mcp:*",
            audience=[],
            jti="g.1",
            now=now,
            lifetime=600,
        )
    )
    body.update(overrides)
    body = {k: v for k, v in body.items() if v is not None}
    headers = {"typ": "at+jwt", "kid": SIGNING.kid}
    return jwt.encode(body, SIGNING.key, algorithm="RS256", headers=headers)


def decode(raw: str, now: float = NOW) -> dict[str, Any]:
    return claims.decode(raw, keys=KEYS, algorithm="RS256", issuer=ISS, now=now)


def refused(raw: str, now: float = NOW) -> str:
    with pytest.raises(claims.InvalidToken) as info:
        decode(raw, now)
    return info.value.reason


def test_expiry_leeway_to_the_second() -> None:
    # Valid while exp + leeway > now: one second before that instant, not at it.
    assert decode(token(exp=NOW - LEEWAY + 1))["jti"] == "g.1"
    assert refused(token(exp=NOW - LEEWAY)) == "expired"


def test_not_before_leeway_to_the_second() -> None:
    assert decode(token(nbf=NOW + LEEWAY))["jti"] == "g.1"
    assert refused(token(nbf=NOW + LEEWAY + 1)) == "not_yet_valid"


def test_issued_at_leeway_to_the_second() -> None:
    assert decode(token(iat=NOW + LEEWAY, nbf=NOW))["jti"] == "g.1"
    assert refused(token(iat=NOW + LEEWAY + 1, nbf=NOW)) == "not_yet_valid"


def test_only_the_injected_clock_counts() -> None:
    # A token long expired by the wall clock is valid at the injected time it was issued for,
    # and one valid by the wall clock is expired at an injected later time.
    old = 1_000_000_000
    assert decode(token(now=old), now=old + 10)["iat"] == old
    assert refused(token(), now=NOW + 600 + LEEWAY) == "expired"


@pytest.mark.parametrize("claim", ["sub", "jti", "iss", "exp", "iat"])
def test_each_required_claim_is_required(claim: str) -> None:
    assert refused(token(**{claim: None})) == "malformed"


def test_a_non_integer_expiry_is_refused() -> None:
    assert refused(token(exp="2000000000")) in {"malformed", "expired"}


@pytest.mark.parametrize("payload", [b"not json", b"[1, 2]", b'{"exp": 1'])
def test_a_signed_payload_that_is_not_a_claims_object_is_malformed(payload: bytes) -> None:
    headers = {"typ": "at+jwt", "kid": SIGNING.kid}
    raw = jwt.PyJWS().encode(payload, SIGNING.key, algorithm="RS256", headers=headers)
    assert refused(raw) == "malformed"
