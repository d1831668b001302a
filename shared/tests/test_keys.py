"""Keys: the EC P-256 JWK and its RFC 7638 thumbprint, JWK Set parsing, and the key-type rules
(one key type per JWT_ALGORITHM, RFC 8725 §3.1)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from authgate_shared.keys import (
    ec_public_jwk,
    key_fits,
    load_private_pem,
    load_public_pem,
    parse_jwks,
    rsa_public_jwk,
    signing_key,
)

EC_KEY = ec.generate_private_key(ec.SECP256R1())
EC_JWK = ec_public_jwk(EC_KEY.public_key())
RSA_KEY = rsa.generate_private_key(65537, 2048)
RSA_JWK = rsa_public_jwk(RSA_KEY.public_key())


def unb64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def private_pem(key: Any) -> bytes:
    pem: bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem


def public_pem(key: Any) -> bytes:
    pem: bytes = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem


def test_ec_jwk_members_follow_rfc7518_section_6_2() -> None:
    assert set(EC_JWK) == {"kty", "crv", "x", "y", "kid", "use", "alg"}
    assert (EC_JWK["kty"], EC_JWK["crv"], EC_JWK["use"], EC_JWK["alg"]) == (
        "EC",
        "P-256",
        "sig",
        "ES256",
    )
    numbers = EC_KEY.public_key().public_numbers()
    for name, value in (("x", numbers.x), ("y", numbers.y)):
        assert "=" not in EC_JWK[name]
        assert unb64(EC_JWK[name]) == value.to_bytes(32, "big")


def test_ec_coordinates_keep_their_leading_zeros() -> None:
    """RFC 7518 §6.2.1.2: always 32 octets, so a small coordinate is zero-padded, not shortened."""
    key = next(
        k
        for k in (ec.derive_private_key(d, ec.SECP256R1()) for d in range(1, 100_000))
        if k.public_key().public_numbers().x < 2**248
    )
    jwk = ec_public_jwk(key.public_key())
    assert len(unb64(jwk["x"])) == 32 and unb64(jwk["x"])[0] == 0
    assert set(parse_jwks(orjson.dumps({"keys": [jwk]}))) == {jwk["kid"]}


def test_ec_kid_is_the_rfc7638_thumbprint_built_by_hand() -> None:
    # RFC 7638 §3.2: the required EC members crv, kty, x, y in lexicographic order, no
    # whitespace. RFC 7638 has no EC example, so the canonical JSON is spelled out here.
    canonical = (
        '{"crv":"P-256","kty":"EC","x":"' + EC_JWK["x"] + '","y":"' + EC_JWK["y"] + '"}'
    ).encode()
    assert EC_JWK["kid"] == b64(hashlib.sha256(canonical).digest())


def test_ec_kid_of_the_rfc7515_example_key() -> None:
    """The RFC 7515 Appendix A.3 P-256 key; its thumbprint is the value other JOSE
    implementations pin for it, so this also checks the canonical JSON against theirs."""
    x = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
    y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
    public = ec.EllipticCurvePublicNumbers(
        int.from_bytes(unb64(x), "big"), int.from_bytes(unb64(y), "big"), ec.SECP256R1()
    ).public_key()
    jwk = ec_public_jwk(public)
    assert (jwk["x"], jwk["y"]) == (x, y)
    canonical = f'{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}'.encode()
    assert jwk["kid"] == b64(hashlib.sha256(canonical).digest())
    assert jwk["kid"] == "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U"


def test_signing_key_takes_its_algorithm_from_the_key_type() -> None:
    assert signing_key(EC_KEY).algorithm == "ES256"
    assert signing_key(EC_KEY).public_jwk == EC_JWK
    assert signing_key(RSA_KEY).algorithm == "RS256"
    with pytest.raises(ValueError, match="only P-256"):
        signing_key(ec.generate_private_key(ec.SECP384R1()))


@pytest.mark.parametrize(
    ("algorithm", "key", "fits"),
    [
        ("ES256", EC_KEY.public_key(), True),
        ("ES256", EC_KEY, True),
        ("ES256", ec.generate_private_key(ec.SECP384R1()).public_key(), False),
        ("ES256", RSA_KEY.public_key(), False),
        ("ES256", b"secret" * 8, False),
        ("RS256", RSA_KEY.public_key(), True),
        ("RS256", EC_KEY.public_key(), False),
        ("HS256", b"secret" * 8, True),
        ("HS256", EC_KEY.public_key(), False),
        ("none", b"", False),
    ],
)
def test_key_fits_only_its_algorithm(algorithm: str, key: object, fits: bool) -> None:
    assert key_fits(algorithm, key) is fits


def with_(**changes: Any) -> dict[str, Any]:
    """EC_JWK with members changed (None removes one)."""
    jwk: dict[str, Any] = {**EC_JWK, **changes}
    return {k: v for k, v in jwk.items() if v is not None}


OTHER_EC = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
P384_JWK = {
    "kty": "EC",
    "crv": "P-384",
    "x": b64(b"\x01" * 48),
    "y": b64(b"\x02" * 48),
    "kid": "p384",
}
# name -> JWK that must be skipped (the rest of the set stays usable).
UNUSABLE_EC_JWKS: dict[str, Any] = {
    "P-384 curve": P384_JWK,
    "secp256k1 curve": with_(crv="secp256k1"),
    "no crv": with_(crv=None),
    "no x": with_(x=None),
    "no y": with_(y=None),
    "no kid": with_(kid=None),
    "x not a string": with_(x=12),
    "x 31 bytes": with_(x=b64(unb64(EC_JWK["x"])[1:])),
    "x 33 bytes": with_(x=b64(b"\x00" + unb64(EC_JWK["x"]))),
    "x padded": with_(x=EC_JWK["x"] + "="),
    "x with '+' (standard base64)": with_(x=EC_JWK["x"][:-1] + "+"),
    "not on the curve": with_(y=b64(unb64(EC_JWK["y"])[:-1] + bytes([unb64(EC_JWK["y"])[-1] ^ 1]))),
    "kty/alg mismatch: EC with RS256": with_(alg="RS256"),
    "kty/alg mismatch: EC with ES384": with_(alg="ES384"),
    "kty/alg mismatch: RSA with ES256": {**RSA_JWK, "alg": "ES256"},
    "kid not the thumbprint": with_(kid="injected"),
    "kid of another key": with_(
        x=b64(OTHER_EC.x.to_bytes(32, "big")), y=b64(OTHER_EC.y.to_bytes(32, "big"))
    ),
    "encryption key": with_(use="enc"),
    "kty oct": {"kty": "oct", "k": "c2VjcmV0", "kid": "k"},
    "not an object": "EC",
}


@pytest.mark.parametrize("name", list(UNUSABLE_EC_JWKS))
def test_parse_jwks_skips_unusable_keys(name: str) -> None:
    document = orjson.dumps({"keys": [UNUSABLE_EC_JWKS[name], EC_JWK, RSA_JWK]})
    assert set(parse_jwks(document)) == {EC_JWK["kid"], RSA_JWK["kid"]}


def test_parse_jwks_accepts_ec_and_rsa_keys_with_or_without_alg() -> None:
    bare = {k: v for k, v in EC_JWK.items() if k not in ("alg", "use")}
    keys = parse_jwks(orjson.dumps({"keys": [bare, RSA_JWK]}))
    assert isinstance(keys[EC_JWK["kid"]], ec.EllipticCurvePublicKey)
    assert keys[EC_JWK["kid"]].public_numbers() == EC_KEY.public_key().public_numbers()
    assert isinstance(keys[RSA_JWK["kid"]], rsa.RSAPublicKey)


@pytest.mark.parametrize("document", [b"[]", b'{"keys": {}}', b'"keys"'])
def test_parse_jwks_refuses_a_document_that_is_not_a_jwk_set(document: bytes) -> None:
    with pytest.raises(TypeError):
        parse_jwks(document)


P384 = ec.generate_private_key(ec.SECP384R1())
ED25519 = ed25519.Ed25519PrivateKey.generate()
Loader = Callable[[bytes, str], object]
# (algorithm, key, expected error or None when the key is accepted)
TYPE_RULES: list[tuple[str, Any, str | None]] = [
    ("ES256", EC_KEY, None),
    ("RS256", RSA_KEY, None),
    ("ES256", RSA_KEY, "is an RSA key (2048 bits) but JWT_ALGORITHM=ES256 needs an EC P-256 key"),
    ("RS256", EC_KEY, "is an EC P-256 key but JWT_ALGORITHM=RS256 needs an RSA key"),
    ("ES256", P384, "is an EC secp384r1 key but JWT_ALGORITHM=ES256 needs an EC P-256 key"),
    ("ES256", ED25519, "needs an EC P-256 key"),
    ("HS256", EC_KEY, "is not used with JWT_ALGORITHM=HS256"),
]


@pytest.mark.parametrize(("algorithm", "key", "error"), TYPE_RULES)
@pytest.mark.parametrize(
    ("loader", "pem"),
    [(load_private_pem, private_pem), (load_public_pem, public_pem)],
    ids=["private", "public"],
)
def test_a_pem_key_must_be_of_the_algorithms_type(
    loader: Loader, pem: Callable[[Any], bytes], algorithm: str, key: Any, error: str | None
) -> None:
    if error is None:
        assert loader(pem(key), algorithm) is not None
    else:
        with pytest.raises(ValueError, match=error.replace("(", r"\(").replace(")", r"\)")):
            loader(pem(key), algorithm)
