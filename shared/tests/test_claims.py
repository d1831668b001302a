from __future__ import annotations

import base64
from typing import Any

import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from authgate_shared import claims
from authgate_shared.keys import parse_jwks, signing_key

KEY = rsa.generate_private_key(65537, 2048)
SIGNING = signing_key(KEY)
KEYS: dict[str, Any] = {SIGNING.kid: KEY.public_key()}
EC_KEY = ec.generate_private_key(ec.SECP256R1())
EC_SIGNING = signing_key(EC_KEY)
# Both keys known: only the configured algorithm and the key types decide.
BOTH: dict[str, Any] = {**KEYS, EC_SIGNING.kid: EC_KEY.public_key()}
NOW = 1_800_000_000
ISS = "https://auth.example.com"


def make(**overrides: Any) -> str:
    signer = overrides.pop("_signer", SIGNING)
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
    headers = {"typ": "at+jwt", "kid": signer.kid}
    headers.update(overrides.pop("_headers", {}))
    body.update(overrides)
    return jwt.encode(body, signer.key, algorithm=signer.algorithm, headers=headers)


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


def es256(token: str, keys: dict[str, Any] = BOTH) -> dict[str, Any]:
    return claims.decode(token, keys=keys, algorithm="ES256", issuer=ISS, now=NOW)


def test_es256_round_trip() -> None:
    token = make(_signer=EC_SIGNING)
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    assert es256(token)["sub"] == "github|octocat"
    assert es256(token, {EC_SIGNING.kid: EC_KEY.public_key()})["jti"] == "g.1"


def _ec_hs256_with_public_key() -> str:
    import hashlib
    import hmac

    pem = EC_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _, body, _ = make(_signer=EC_SIGNING).split(".")
    head = b64({"alg": "HS256", "typ": "at+jwt", "kid": EC_SIGNING.kid})
    sig = hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}." + base64.urlsafe_b64encode(sig).rstrip(b"=").decode()


def _ec_signature_changed(change: Any) -> str:
    head, body, sig = make(_signer=EC_SIGNING).split(".")
    raw = base64.urlsafe_b64decode(sig + "==")
    return f"{head}.{body}." + base64.urlsafe_b64encode(change(raw)).rstrip(b"=").decode()


def _ec_der_signature() -> str:
    from cryptography.hazmat.primitives import hashes

    head, body, _ = make(_signer=EC_SIGNING).split(".")
    der = EC_KEY.sign(f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
    return f"{head}.{body}." + base64.urlsafe_b64encode(der).rstrip(b"=").decode()


def _ec_tampered_payload() -> str:
    head, _, sig = make(_signer=EC_SIGNING).split(".")
    body = b64({"iss": ISS, "exp": NOW + 60, "iat": NOW, "jti": "x", "sub": "github|admin"})
    return f"{head}.{body}.{sig}"


def _ec_alg_none() -> str:
    _, body, _ = make(_signer=EC_SIGNING).split(".")
    return b64({"alg": "none", "typ": "at+jwt", "kid": EC_SIGNING.kid}) + f".{body}."


# With JWT_ALGORITHM=ES256 and both an RSA and an EC key known.
ES256_REJECTIONS: dict[str, Any] = {
    "RS256 token": make,
    "alg none": _ec_alg_none,
    "HS256 signed with the EC public key PEM": _ec_hs256_with_public_key,
    "signature bit flipped": lambda: _ec_signature_changed(lambda r: r[:-1] + bytes([r[-1] ^ 1])),
    "signature r and s swapped": lambda: _ec_signature_changed(lambda r: r[32:] + r[:32]),
    "signature truncated": lambda: _ec_signature_changed(lambda r: r[:63]),
    "signature DER instead of R||S": _ec_der_signature,
    "payload tampered": _ec_tampered_payload,
    "ES256 header naming the RSA key": lambda: make(
        _signer=EC_SIGNING, _headers={"kid": SIGNING.kid}
    ),
}


@pytest.mark.parametrize("name", list(ES256_REJECTIONS))
def test_es256_rejections(name: str) -> None:
    with pytest.raises(claims.InvalidToken) as info:
        es256(ES256_REJECTIONS[name]())
    assert info.value.reason == "bad_signature"


def test_es256_token_is_refused_when_rs256_is_configured() -> None:
    token = make(_signer=EC_SIGNING)
    with pytest.raises(claims.InvalidToken) as info:
        claims.decode(token, keys=BOTH, algorithm="RS256", issuer=ISS, now=NOW)
    assert info.value.reason == "bad_signature"


@pytest.mark.parametrize(
    ("algorithm", "kid"),
    [("ES256", SIGNING.kid), ("RS256", EC_SIGNING.kid), ("HS256", SIGNING.kid)],
    ids=["RSA key under ES256", "EC key under RS256", "RSA key under HS256"],
)
def test_a_key_of_another_type_is_never_tried(
    monkeypatch: pytest.MonkeyPatch, algorithm: str, kid: str
) -> None:
    def must_not_verify(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a key of the wrong type reached signature verification")

    monkeypatch.setattr(claims.jwt, "decode", must_not_verify)
    token = b64({"alg": algorithm, "typ": "at+jwt", "kid": kid}) + "." + b64({"iss": ISS}) + ".c2ln"
    with pytest.raises(claims.InvalidToken, match="does not fit") as info:
        claims.decode(token, keys=BOTH, algorithm=algorithm, issuer=ISS, now=NOW)
    assert info.value.reason == "bad_signature"
