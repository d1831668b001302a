"""Signing and verification keys, JWK export, RFC 7638 thumbprints and JWK Sets.

The issuer signs with its current key; the verifier verifies with any key of the published set,
selected by ``kid``. Keys are identified by their RFC 7638 thumbprint so that every replica and
every verifier names a key the same way without coordination.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

MIN_RSA_BITS = 2048
MIN_HMAC_BYTES = 32


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def rsa_public_jwk(public_key: rsa.RSAPublicKey) -> dict[str, str]:
    """The public JWK (RFC 7518 §6.3.1) with ``kid`` = RFC 7638 thumbprint."""
    numbers = public_key.public_numbers()
    jwk = {"e": _int_b64(numbers.e), "kty": "RSA", "n": _int_b64(numbers.n)}
    # RFC 7638 §3: required members only, lexicographic order, no whitespace.
    kid = b64url(hashlib.sha256(orjson.dumps(jwk, option=orjson.OPT_SORT_KEYS)).digest())
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


def hmac_kid(secret: bytes) -> str:
    """RFC 7638 thumbprint of a symmetric ``oct`` key (members ``k``, ``kty``)."""
    members = {"k": b64url(secret), "kty": "oct"}
    return b64url(hashlib.sha256(orjson.dumps(members, option=orjson.OPT_SORT_KEYS)).digest())


@dataclass(frozen=True)
class SigningKey:
    """The issuer's current signing key. ``key`` is what PyJWT signs with."""

    kid: str
    algorithm: str
    key: Any
    public_jwk: dict[str, str] | None


def rsa_signing_key(private_key: rsa.RSAPrivateKey) -> SigningKey:
    jwk = rsa_public_jwk(private_key.public_key())
    return SigningKey(kid=jwk["kid"], algorithm="RS256", key=private_key, public_jwk=jwk)


def hmac_signing_key(secret: bytes) -> SigningKey:
    return SigningKey(kid=hmac_kid(secret), algorithm="HS256", key=secret, public_jwk=None)


def load_rsa_private_pem(pem: bytes) -> rsa.RSAPrivateKey:
    """Parse a PEM private key; ValueError with a reason if it is not RSA >= 2048 bits."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError("is not a PEM-encoded unencrypted private key") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("must be an RSA private key")
    if key.key_size < MIN_RSA_BITS:
        raise ValueError(f"must be at least {MIN_RSA_BITS} bits, got {key.key_size}")
    return key


def load_rsa_public_pem(pem: bytes) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise ValueError("is not a PEM-encoded public key") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("must be an RSA public key")
    if key.key_size < MIN_RSA_BITS:
        raise ValueError(f"must be at least {MIN_RSA_BITS} bits, got {key.key_size}")
    return key


def pem_text(value: str) -> bytes:
    """PEM from an environment variable, where newlines are often written as a literal ``\\n``."""
    return value.replace("\\n", "\n").encode("ascii", "replace")


def jwks_document(jwks: list[dict[str, str]]) -> bytes:
    """The serialized JWK Set (RFC 7517 §5)."""
    return orjson.dumps({"keys": jwks})


def parse_jwks(raw: bytes | str) -> dict[str, rsa.RSAPublicKey]:
    """kid -> public key for every usable RSA signing key of a JWK Set; others are skipped."""
    document = orjson.loads(raw)
    keys: dict[str, rsa.RSAPublicKey] = {}
    for jwk in document.get("keys", []):
        if jwk.get("kty") != "RSA" or jwk.get("use", "sig") != "sig" or "kid" not in jwk:
            continue
        n = int.from_bytes(base64.urlsafe_b64decode(jwk["n"] + "=" * (-len(jwk["n"]) % 4)), "big")
        e = int.from_bytes(base64.urlsafe_b64decode(jwk["e"] + "=" * (-len(jwk["e"]) % 4)), "big")
        public = rsa.RSAPublicNumbers(e, n).public_key()
        if public.key_size < MIN_RSA_BITS:
            continue
        # A kid that is not the key's own thumbprint is not trusted (no injected aliases).
        if rsa_public_jwk(public)["kid"] != jwk["kid"]:
            continue
        keys[jwk["kid"]] = public
    return keys
