"""Keys: rotation picked up without a restart, a junk-kid flood reloads at most once per
interval, retired keys stop verifying, and the configured-key modes (PEM, HS256)."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from authgate_issuer.keystore import add_key
from authgate_shared.keys import rsa_public_jwk
from authgate_verifier.app import VerifierApp
from authgate_verifier.keyset import MIN_RELOAD_INTERVAL
from authgate_verifier.settings import VerifierSettings
from testsupport.tokens import TokenMinter
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
