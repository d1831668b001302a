"""Keys: rotation picked up without a restart, a junk-kid flood reloads at most once per
interval, retired keys stop verifying, the configured-key modes (PEM, HS256), and ES256 (from
the JWK Set or a PEM) accepting only ES256 tokens on EC P-256 keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import orjson
import pytest
import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from authgate_issuer.store.keystore import add_key
from authgate_shared.keys import ec_public_jwk, jwks_document, rsa_public_jwk
from authgate_verifier.app import VerifierApp
from authgate_verifier.keyset import MIN_RELOAD_INTERVAL
from authgate_verifier.settings import VerifierSettings
from testsupport.tokens import Minted, TokenMinter
from testsupport.verifier import MCP_A, bearer, call, forwarded, running, verifier_env

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_rotation_is_picked_up_and_junk_kids_are_rate_limited(
    redis_url: str, keys_dir: Path
) -> None:
    clock = FakeMonotonic()
    app = VerifierApp(VerifierSettings.from_env(verifier_env(redis_url)), monotonic=clock)
    async with TokenMinter.open(redis_url, keys_dir) as minter, running(app):
        old = await minter.mint(resources=[MCP_A])
        assert (await call(app, headers={**forwarded(MCP_A), **bearer(old.token)})).status == 200
        # A flood of tokens with random kids: one reload, then refusals without touching Redis.
        before = app.keys.reloads
        for _ in range(20):
            junk = rsa.generate_private_key(65537, 2048)
            kid = rsa_public_jwk(junk.public_key())["kid"]
            forged = jwt.encode({"sub": "x"}, junk, "RS256", headers={"kid": kid, "typ": "at+jwt"})
            response = await call(app, headers={**forwarded(MCP_A), **bearer(forged)})
            assert response.status == 401
        assert app.keys.reloads == before + 1

        # The issuer rotates: a new current key, the old one kept in the published set.
        add_key(keys_dir, rsa.generate_private_key(65537, 2048), make_current=True)
        async with TokenMinter.open(redis_url, keys_dir) as rotated:
            new = await rotated.mint(resources=[MCP_A])
        new_kid = jwt.get_unverified_header(new.token)["kid"]
        assert new_kid != jwt.get_unverified_header(old.token)["kid"]
        headers = {**forwarded(MCP_A), **bearer(new.token)}
        # Within the reload interval the unknown kid is refused (the flood used the reload)...
        assert (await call(app, headers=headers)).status == 401
        clock.now += MIN_RELOAD_INTERVAL
        # ...and after it, the new kid triggers a reload and verifies; no restart.
        assert (await call(app, headers=headers)).status == 200
        assert (await call(app, headers={**forwarded(MCP_A), **bearer(old.token)})).status == 200


async def test_retired_key_stops_verifying_after_reload(redis_url: str, keys_dir: Path) -> None:
    app = VerifierApp(VerifierSettings.from_env(verifier_env(redis_url)))
    async with TokenMinter.open(redis_url, keys_dir) as minter, running(app):
        minted = await minter.mint(resources=[MCP_A])
        headers = {**forwarded(MCP_A), **bearer(minted.token)}
        assert (await call(app, headers=headers)).status == 200
        await minter.ctx.redis.set("oauth:jwks", b'{"keys": []}')
        await app.keys.load()
        assert len(app.cache) == 0
        assert (await call(app, headers=headers)).status == 401


async def test_configured_public_key_needs_no_jwks_in_redis(redis_url: str, keys_dir: Path) -> None:
    async with TokenMinter.open(redis_url, keys_dir) as minter:
        minted = await minter.mint(resources=[MCP_A])
        pem = minter.ctx.keys.current.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        await minter.ctx.redis.delete("oauth:jwks")
    env = verifier_env(redis_url, GATEWAY_RSA_PUBLIC_KEY=pem.decode().replace("\n", "\\n"))
    app = VerifierApp(VerifierSettings.from_env(env))
    async with running(app):
        assert not app.keys.from_redis
        response = await call(app, headers={**forwarded(MCP_A), **bearer(minted.token)})
        assert response.status == 200


async def test_hs256_only_when_configured(redis_url: str, keys_dir: Path) -> None:
    secret = "s" * 40
    hs = {"JWT_ALGORITHM": "HS256", "GATEWAY_JWT_SECRET": secret}
    async with TokenMinter.open(redis_url, keys_dir, env=hs) as minter:
        minted = await minter.mint(resources=[MCP_A])
    headers = {**forwarded(MCP_A), **bearer(minted.token)}
    hs_app = VerifierApp(VerifierSettings.from_env(verifier_env(redis_url, **hs)))
    rs_app = VerifierApp(VerifierSettings.from_env(verifier_env(redis_url)))
    async with running(hs_app), running(rs_app):
        assert (await call(hs_app, headers=headers)).status == 200
        assert (await call(rs_app, headers=headers)).status == 401


ES256 = {"JWT_ALGORITHM": "ES256"}


@dataclass
class Pair:
    """An RS256 and an ES256 issuer on one Redis, whose JWK Set holds both keys (as while a
    deployment migrates): only JWT_ALGORITHM and the key types decide what passes."""

    rs: Minted
    es: Minted
    ec_key: ec.EllipticCurvePrivateKey
    rs_app: VerifierApp
    es_app: VerifierApp


@pytest.fixture
async def pair(redis_url: str, keys_dir: Path, empty_keys_dir: Path) -> AsyncIterator[Pair]:
    async with (
        TokenMinter.open(redis_url, keys_dir) as rs,
        TokenMinter.open(redis_url, empty_keys_dir, env=ES256) as es,
    ):
        rs_minted, es_minted = await rs.mint(resources=[MCP_A]), await es.mint(resources=[MCP_A])
        jwks = [rs.ctx.keys.current.public_jwk, es.ctx.keys.current.public_jwk]
        await es.ctx.redis.set("oauth:jwks", jwks_document([k for k in jwks if k]))
        ec_key = es.ctx.keys.current.key
        assert isinstance(ec_key, ec.EllipticCurvePrivateKey)
    rs_app = VerifierApp(VerifierSettings.from_env(verifier_env(redis_url)))
    es_app = VerifierApp(VerifierSettings.from_env(verifier_env(redis_url, **ES256)))
    async with running(rs_app), running(es_app):
        yield Pair(rs_minted, es_minted, ec_key, rs_app, es_app)


async def status(app: VerifierApp, token: str) -> int:
    return (await call(app, headers={**forwarded(MCP_A), **bearer(token)})).status


async def test_es256_tokens_pass_only_where_es256_is_configured(pair: Pair) -> None:
    assert jwt.get_unverified_header(pair.es.token)["alg"] == "ES256"
    ok = await call(pair.es_app, headers={**forwarded(MCP_A), **bearer(pair.es.token)})
    assert ok.status == 200 and ok.headers["x-user-name"] == "octocat"
    assert await status(pair.rs_app, pair.rs.token) == 200  # the control
    # One algorithm per deployment (RFC 8725 §3.1), even with both keys in the JWK Set.
    assert await status(pair.es_app, pair.rs.token) == 401
    assert await status(pair.rs_app, pair.es.token) == 401
    for app in (pair.es_app, pair.rs_app):
        assert app.metrics.decisions["bad_signature"] == 1


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def with_header(token: str, **header: Any) -> tuple[str, str]:
    """(new header segment, payload segment) of ``token``."""
    return b64(orjson.dumps({**jwt.get_unverified_header(token), **header})), token.split(".")[1]


def hs256_with(secret_of: Callable[[Pair], bytes]) -> Callable[[Pair], str]:
    """The ES256 token re-signed as HS256 with public key material as the secret."""

    def forge(p: Pair) -> str:
        head, body = with_header(p.es.token, alg="HS256")
        mac = hmac.new(secret_of(p), f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{b64(mac)}"

    return forge


def ec_public_pem(p: Pair) -> bytes:
    return p.ec_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def flipped_signature(p: Pair) -> str:
    head, body, sig = p.es.token.split(".")
    raw = base64.urlsafe_b64decode(sig + "==")
    return f"{head}.{body}.{b64(raw[:-1] + bytes([raw[-1] ^ 1]))}"


def tampered_payload(p: Pair) -> str:
    head, body, sig = p.es.token.split(".")
    claims = orjson.loads(base64.urlsafe_b64decode(body + "=="))
    return f"{head}.{b64(orjson.dumps({**claims, 'github_username': 'admin'}))}.{sig}"


def alg_none(p: Pair) -> str:
    head, body = with_header(p.es.token, alg="none")
    return f"{head}.{body}."


def rsa_kid(p: Pair) -> str:
    """A genuine ES256 signature by the real EC key, but naming the RSA key of the set."""
    claims = jwt.decode(p.es.token, options={"verify_signature": False})
    header = {
        **jwt.get_unverified_header(p.es.token),
        "kid": jwt.get_unverified_header(p.rs.token)["kid"],
    }
    return jwt.encode(claims, p.ec_key, algorithm="ES256", headers=header)


ES256_FORGERIES: dict[str, Callable[[Pair], str]] = {
    "alg none": alg_none,
    "signature bit flipped": flipped_signature,
    "payload tampered": tampered_payload,
    "HS256 signed with the EC public key PEM": hs256_with(ec_public_pem),
    "HS256 signed with the EC public JWK": hs256_with(
        lambda p: orjson.dumps(ec_public_jwk(p.ec_key.public_key()))
    ),
    "ES256 naming the RSA key": rsa_kid,
}


@pytest.mark.parametrize("name", list(ES256_FORGERIES))
async def test_es256_forgeries_are_refused(pair: Pair, name: str) -> None:
    forged = ES256_FORGERIES[name](pair)
    assert await status(pair.es_app, forged) == 401
    assert pair.es_app.metrics.decisions["bad_signature"] == 1
    assert await status(pair.es_app, pair.es.token) == 200  # the control


async def test_es256_with_a_configured_ec_public_key(
    pair: Pair, redis_url: str, redis_client: redis.Redis
) -> None:
    redis_client.delete("oauth:jwks")
    pem = ec_public_pem(pair).decode().replace("\n", "\\n")
    app = VerifierApp(
        VerifierSettings.from_env(verifier_env(redis_url, GATEWAY_RSA_PUBLIC_KEY=pem, **ES256))
    )
    async with running(app):
        assert not app.keys.from_redis
        assert await status(app, pair.es.token) == 200
        assert await status(app, pair.rs.token) == 401
