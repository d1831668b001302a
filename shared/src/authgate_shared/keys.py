"""Signing and verification keys, JWK export, RFC 7638 thumbprints and JWK Sets.

The issuer signs with its current key; the verifier verifies with any key of the published set,
selected by ``kid``. Keys are identified by their RFC 7638 thumbprint so that every replica and
every verifier names a key the same way without coordination.

Each algorithm (RFC 7518 §3) has exactly one key type: RS256 an RSA key of at least 2048 bits,
ES256 an ECDSA key on P-256 (§3.4: the curve is part of the algorithm), HS256 a shared secret.
A key of another type is refused wherever one is loaded, so a key can never make the issuer sign
with, or a verifier accept, an algorithm other than the configured one (RFC 8725 §3.1).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

MIN_RSA_BITS = 2048
MIN_HMAC_BYTES = 32
# RFC 7518 §6.2.1.2/§6.2.1.3: a P-256 coordinate is always its full 32 octets, leading zeros kept.
P256_COORDINATE_BYTES = 32

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

# The one key type each algorithm is used with, for checks and for error messages.
_KEY_TYPES: dict[str, tuple[type, ...]] = {
    "RS256": (rsa.RSAPublicKey, rsa.RSAPrivateKey),
    "ES256": (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey),
    "HS256": (bytes,),
}
_NEEDS = {"RS256": "an RSA key", "ES256": "an EC P-256 key"}
# The algorithm a JWK of each ``kty`` is used with here (its optional "alg" must agree).
_JWK_ALGORITHM = {"RSA": "RS256", "EC": "ES256"}
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(value: object) -> bytes | None:
    """Strict unpadded base64url (RFC 7515 §2); None for anything else."""
    if not isinstance(value, str) or not _B64URL.match(value) or len(value) % 4 == 1:
        return None
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None


def _int_b64(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _thumbprint(required: dict[str, str]) -> str:
    # RFC 7638 §3: required members only, lexicographic order, no whitespace, SHA-256.
    return b64url(hashlib.sha256(orjson.dumps(required, option=orjson.OPT_SORT_KEYS)).digest())


def rsa_public_jwk(public_key: rsa.RSAPublicKey) -> dict[str, str]:
    """The public JWK (RFC 7518 §6.3.1) with ``kid`` = RFC 7638 thumbprint."""
    numbers = public_key.public_numbers()
    jwk = {"e": _int_b64(numbers.e), "kty": "RSA", "n": _int_b64(numbers.n)}
    return {**jwk, "kid": _thumbprint(jwk), "use": "sig", "alg": "RS256"}


def ec_public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The public P-256 JWK (RFC 7518 §6.2.1) with ``kid`` = RFC 7638 thumbprint."""
    if not isinstance(public_key.curve, ec.SECP256R1):
        raise ValueError(f"only P-256 keys are used here (ES256), got {public_key.curve.name}")
    numbers = public_key.public_numbers()
    jwk = {
        "crv": "P-256",
        "kty": "EC",
        "x": b64url(numbers.x.to_bytes(P256_COORDINATE_BYTES, "big")),
        "y": b64url(numbers.y.to_bytes(P256_COORDINATE_BYTES, "big")),
    }
    return {**jwk, "kid": _thumbprint(jwk), "use": "sig", "alg": "ES256"}


def public_jwk(public_key: PublicKey) -> dict[str, str]:
    if isinstance(public_key, rsa.RSAPublicKey):
        return rsa_public_jwk(public_key)
    return ec_public_jwk(public_key)


def hmac_kid(secret: bytes) -> str:
    """RFC 7638 thumbprint of a symmetric ``oct`` key (members ``k``, ``kty``)."""
    return _thumbprint({"k": b64url(secret), "kty": "oct"})


@dataclass(frozen=True)
class SigningKey:
    """The issuer's current signing key. ``key`` is what PyJWT signs with."""

    kid: str
    algorithm: str
    key: Any
    public_jwk: dict[str, str] | None


def signing_key(private_key: PrivateKey) -> SigningKey:
    """The signing key of an RSA (RS256) or EC P-256 (ES256) private key."""
    jwk = public_jwk(private_key.public_key())
    return SigningKey(kid=jwk["kid"], algorithm=jwk["alg"], key=private_key, public_jwk=jwk)


def hmac_signing_key(secret: bytes) -> SigningKey:
    return SigningKey(kid=hmac_kid(secret), algorithm="HS256", key=secret, public_jwk=None)


def key_fits(algorithm: str, key: object) -> bool:
    """Whether ``key`` is of the one type ``algorithm`` is used with (RFC 8725 §3.1)."""
    if not isinstance(key, _KEY_TYPES.get(algorithm, ())):
        return False
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        return isinstance(key.curve, ec.SECP256R1)
    return True


def _describe(key: object) -> str:
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return f"an RSA key ({key.key_size} bits)"
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        return "an EC P-256 key" if key.curve.name == "secp256r1" else f"an EC {key.curve.name} key"
    return f"a key of type {type(key).__name__}"


def _check_type(key: object, algorithm: str) -> None:
    """ValueError with a reason unless ``key`` can sign or verify ``algorithm`` tokens."""
    if algorithm not in _NEEDS:
        raise ValueError(f"is not used with JWT_ALGORITHM={algorithm}")
    if not key_fits(algorithm, key):
        raise ValueError(
            f"is {_describe(key)} but JWT_ALGORITHM={algorithm} needs {_NEEDS[algorithm]}"
        )
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey) and key.key_size < MIN_RSA_BITS:
        raise ValueError(f"must be at least {MIN_RSA_BITS} bits, got {key.key_size}")


def load_private_pem(pem: bytes, algorithm: str) -> PrivateKey:
    """Parse a PEM private key for ``algorithm``; ValueError with a reason otherwise."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError("is not a PEM-encoded unencrypted private key") from exc
    _check_type(key, algorithm)
    assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    return key


def load_public_pem(pem: bytes, algorithm: str) -> PublicKey:
    """Parse a PEM public key for ``algorithm``; ValueError with a reason otherwise."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise ValueError("is not a PEM-encoded public key") from exc
    _check_type(key, algorithm)
    assert isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
    return key


def pem_text(value: str) -> bytes:
    """PEM from an environment variable, where newlines are often written as a literal ``\\n``."""
    return value.replace("\\n", "\n").encode("ascii", "replace")


def jwks_document(jwks: list[dict[str, str]]) -> bytes:
    """The serialized JWK Set (RFC 7517 §5)."""
    return orjson.dumps({"keys": jwks})


def _rsa_from_jwk(jwk: dict[str, Any]) -> rsa.RSAPublicKey | None:
    n, e = _b64url_decode(jwk.get("n")), _b64url_decode(jwk.get("e"))
    if not n or not e:
        return None
    try:
        public = rsa.RSAPublicNumbers(int.from_bytes(e, "big"), int.from_bytes(n, "big"))
        key = public.public_key()
    except ValueError:
        return None
    return key if key.key_size >= MIN_RSA_BITS else None


def _ec_from_jwk(jwk: dict[str, Any]) -> ec.EllipticCurvePublicKey | None:
    # Only P-256: ES256 is defined on it alone (RFC 7518 §3.4).
    if jwk.get("crv") != "P-256":
        return None
    x, y = _b64url_decode(jwk.get("x")), _b64url_decode(jwk.get("y"))
    if x is None or y is None or len(x) != P256_COORDINATE_BYTES or len(y) != len(x):
        return None
    numbers = ec.EllipticCurvePublicNumbers(
        int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
    )
    try:
        return numbers.public_key()
    except ValueError:  # not a point on the curve
        return None


def _public_from_jwk(jwk: object) -> PublicKey | None:
    """The verification key of one JWK, or None when this gateway cannot use it."""
    if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
        return None
    kty, kid = jwk.get("kty"), jwk.get("kid")
    algorithm = _JWK_ALGORITHM.get(kty) if isinstance(kty, str) else None
    # RFC 7517 §4.4: "alg" is optional, but when present it must be the key type's algorithm.
    if algorithm is None or not isinstance(kid, str) or jwk.get("alg", algorithm) != algorithm:
        return None
    public: PublicKey | None = _rsa_from_jwk(jwk) if kty == "RSA" else _ec_from_jwk(jwk)
    # A kid that is not the key's own thumbprint is not trusted (no injected aliases).
    if public is None or public_jwk(public)["kid"] != kid:
        return None
    return public


def parse_jwks(raw: bytes | str) -> dict[str, PublicKey]:
    """kid -> public key for every usable RSA or EC P-256 signing key of a JWK Set.

    Keys this gateway cannot use (other types or curves, missing or malformed members, an "alg"
    that does not fit the type, a kid that is not the thumbprint) are skipped, as RFC 7517 §5
    asks of unknown keys. A document that is not a JWK Set raises ValueError/TypeError.
    """
    document = orjson.loads(raw)
    if not isinstance(document, dict) or not isinstance(document.get("keys", []), list):
        raise TypeError("not a JWK Set")
    keys: dict[str, PublicKey] = {}
    for jwk in document.get("keys", []):
        public = _public_from_jwk(jwk)
        if public is not None:
            keys[jwk["kid"]] = public
    return keys
