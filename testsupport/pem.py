"""PEM text of test keys, as operators put them in GATEWAY_RSA_PRIVATE_KEY / _PUBLIC_KEY."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def private_pem(key: PrivateKey) -> str:
    """Unencrypted PKCS#8, the form ``openssl genpkey`` writes."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
