from __future__ import annotations

import base64
from typing import Any

import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from authgate_shared import claims
from authgate_shared.keys import parse_jwks, rsa_signing_key

KEY = rsa.generate_private_key(65537, 2048)
SIGNING = rsa_signing_key(KEY)
KEYS: dict[str, Any] = {SIGNING.kid: KEY.public_key()}
NOW = 1_800_000_000
ISS = "https://auth.example.com"


def make(**overrides: Any) -> str:
    body = dict(
        claims.build_claims(
            issuer=ISS,
            username="octocat",
            github_id="1",
            client_id="c",
            scope="mcp:*",
            audience=[],
            jti="g.1",
            now=NOW,
            lifetime=600,
        )
    )
    headers = {"typ": "at+jwt", "kid": SIGNING.kid}
    headers.update(overrides.pop("_headers", {}))
    body.update(overrides)
    return jwt.encode(body, KEY, algorithm="RS256", headers=headers)


def decode(token: str, now: float = NOW) -> dict[str, Any]:
    return claims.decode(token, keys=KEYS, algorithm="RS256", issuer=ISS, now=now)


def test_round_trip_and_gateway_audience() -> None:
    decoded = decode(make())
    assert decoded["sub"] == "github|octocat"
    assert claims.audiences(decoded) == [claims.GATEWAY_AUDIENCE]


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("token_factory", "reason"),
    [
        (lambda: make(exp=NOW - 100), "expired"),
        (lambda: make(nbf=NOW + 100), "not_yet_valid"),
        (lambda: make(iat=NOW + 100), "not_yet_valid"),
        (lambda: make(iss="https://evil.example"), "wrong_issuer"),
        (lambda: make(_headers={"typ": "JWT"}), "wrong_type"),
        (lambda: make(_headers={"kid": "unknown"}), "unknown_kid"),
        (lambda: make(jti=""), "malformed"),
        (
            lambda: (
                b64({"alg": "none", "typ": "at+jwt", "kid": SIGNING.kid})
                + "."
                + b64({"iss": ISS})
                + "."
            ),
            "bad_signature",
        ),
        (lambda: _hs256_with_public_key(), "bad_signature"),
        (lambda: _tampered(), "bad_signature"),
        (lambda: "garbage", "malformed"),
    ],
)
def test_rejections(token_factory: Any, reason: str) -> None:
    with pytest.raises(claims.InvalidToken) as info:
        decode(token_factory())
    assert info.value.reason == reason


def _hs256_with_public_key() -> str:
    import hashlib
    import hmac

    pem = KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    head = b64({"alg": "HS256", "typ": "at+jwt", "kid": SIGNING.kid})
    body = b64({"iss": ISS, "exp": NOW + 60, "iat": NOW, "jti": "x", "sub": "s"})
    sig = hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}." + base64.urlsafe_b64encode(sig).rstrip(b"=").decode()


def _tampered() -> str:
    head, _, sig = make().split(".")
    body = b64({"iss": ISS, "exp": NOW + 60, "iat": NOW, "jti": "x", "sub": "github|admin"})
    return f"{head}.{body}.{sig}"


def test_jwks_refuses_a_kid_that_is_not_the_thumbprint() -> None:
    jwk = dict(SIGNING.public_jwk or {})
    good = orjson.dumps({"keys": [jwk]})
    assert set(parse_jwks(good)) == {SIGNING.kid}
    jwk["kid"] = "injected"
    assert parse_jwks(orjson.dumps({"keys": [jwk]})) == {}
