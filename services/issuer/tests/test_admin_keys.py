"""``authgate keys rotate|prune|list``: tokens from before and after a rotation both verify."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import jwt
import orjson
import pytest
import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from authgate_issuer.oauth.issuance import start_grant
from authgate_issuer.settings import IssuerSettings
from authgate_issuer.store.keystore import add_key, generate_private_key
from authgate_shared import claims as jwt_claims
from authgate_shared import redis_keys
from authgate_shared.keys import parse_jwks
from testsupport.admin_cli import admin_env, run, run_process
from testsupport.issuer import issuer_env
from testsupport.issuer_ctx import issuer_context


def mint(settings: IssuerSettings) -> str:
    """An access token signed by the key ring an issuer would load from KEYS_DIR now."""

    async def go() -> str:
        async with issuer_context(settings) as ctx:
            minted = await start_grant(
                ctx, client_id="c", username="octocat", github_id="1", scope="s", resources=[]
            )
            return minted.access_token

    return asyncio.run(go())


def verify(
    redis_client: redis.Redis, token: str, issuer: str, algorithm: str = "RS256"
) -> dict[str, object]:
    keys = parse_jwks(redis_client.get(redis_keys.JWKS))
    return jwt_claims.decode(
        token, keys=dict(keys), algorithm=algorithm, issuer=issuer, now=time.time()
    )


def kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def test_rotate_keeps_old_tokens_valid_and_prune_retires_the_old_key(
    settings: IssuerSettings, redis_url: str, keys_dir: Path, redis_client: redis.Redis
) -> None:
    env = admin_env(redis_url, keys_dir, ACCESS_TOKEN_LIFETIME="3600")
    before = mint(settings)
    old_kid = kid(before)

    rotated = run_process(env, "keys", "rotate", "--json")
    assert rotated.code == 0, rotated.err
    new_kid = rotated.json()["current"]
    assert new_kid != old_kid and rotated.json()["previous"] == [old_kid]
    after = mint(settings)  # an issuer (re)started now signs with the new key
    assert kid(after) == new_kid
    assert verify(redis_client, before, settings.issuer_url)["jti"]
    assert verify(redis_client, after, settings.issuer_url)["jti"]
    retired = orjson.loads((keys_dir / "retired.json").read_bytes())
    assert abs(retired[old_kid] - time.time()) < 30

    listed = run(env, "keys", "list", "--json")
    rows = {r["kid"]: r for r in listed.json()}
    assert rows[new_kid]["current"] and not rows[old_kid]["current"]
    assert rows[old_kid]["published"] and rows[new_kid]["published"]
    assert rows[old_kid]["prunable_at"] == retired[old_kid] + 3600 + 300

    kept = run(env, "keys", "prune", "--json")
    assert kept.code == 0 and kept.json() == {"pruned": [], "kept": [old_kid]}
    assert verify(redis_client, before, settings.issuer_url)

    # Every token the old key signed has expired: prune removes it from disk and the JWK Set.
    (keys_dir / "retired.json").write_bytes(orjson.dumps({old_kid: int(time.time()) - 4000}))
    pruned = run_process(env, "keys", "prune", "--json")
    assert pruned.code == 0, pruned.err
    assert pruned.json() == {"pruned": [old_kid], "kept": []}
    assert not (keys_dir / f"{old_kid}.pem").exists()
    assert verify(redis_client, after, settings.issuer_url)
    with pytest.raises(jwt_claims.InvalidToken, match="unknown"):
        verify(redis_client, before, settings.issuer_url)
    table = run(env, "keys", "list")
    assert new_kid in table.out and old_kid not in table.out


def test_prune_records_hand_rotated_keys_instead_of_deleting_them(
    settings: IssuerSettings, redis_url: str, keys_dir: Path
) -> None:
    env = admin_env(redis_url, keys_dir, ACCESS_TOKEN_LIFETIME="1")
    mint(settings)
    assert run(env, "keys", "rotate").code == 0
    (keys_dir / "retired.json").unlink()  # as if rotated by hand: no retirement record
    first = run(env, "keys", "prune", "--json")
    assert first.json()["pruned"] == [] and len(first.json()["kept"]) == 1


def test_keys_commands_refuse_configurations_without_a_key_directory(
    redis_url: str, keys_dir: Path, empty_keys_dir: Path
) -> None:
    hs = admin_env(redis_url, keys_dir, JWT_ALGORITHM="HS256")
    assert run(hs, "keys", "rotate").code == 2
    pem = admin_env(redis_url, keys_dir, GATEWAY_RSA_PRIVATE_KEY="-----BEGIN...")
    refused = run(pem, "keys", "rotate")
    assert refused.code == 2 and "GATEWAY_RSA_PRIVATE_KEY" in refused.err
    assert run(hs, "keys", "list").code == 2
    assert run(admin_env(redis_url, empty_keys_dir), "keys", "list").code == 1


def test_es256_rotate_generates_a_p256_key_and_prune_retires_the_old_one(
    redis_url: str, empty_keys_dir: Path, redis_client: redis.Redis
) -> None:
    keys_dir = empty_keys_dir
    es256 = {"JWT_ALGORITHM": "ES256", "ACCESS_TOKEN_LIFETIME": "3600"}
    settings = IssuerSettings.from_env(issuer_env(redis_url, keys_dir, **es256))
    env = admin_env(redis_url, keys_dir, **es256)
    before = mint(settings)  # the issuer's first start generates the first P-256 key
    old_kid = kid(before)

    rotated = run_process(env, "keys", "rotate", "--json")
    assert rotated.code == 0, rotated.err
    new_kid = rotated.json()["current"]
    assert new_kid != old_kid and rotated.json()["previous"] == [old_kid]
    new_key = serialization.load_pem_private_key((keys_dir / f"{new_kid}.pem").read_bytes(), None)
    assert isinstance(new_key, ec.EllipticCurvePrivateKey)
    assert isinstance(new_key.curve, ec.SECP256R1)
    published = orjson.loads(redis_client.get(redis_keys.JWKS))["keys"]
    assert {(k["kid"], k["kty"], k["alg"]) for k in published} == {
        (old_kid, "EC", "ES256"),
        (new_kid, "EC", "ES256"),
    }
    after = mint(settings)
    assert kid(after) == new_kid and jwt.get_unverified_header(after)["alg"] == "ES256"
    for token in (before, after):
        assert verify(redis_client, token, settings.issuer_url, "ES256")["jti"]

    rows = {r["kid"]: r for r in run(env, "keys", "list", "--json").json()}
    assert rows[new_kid]["current"] and rows[old_kid]["published"]

    (keys_dir / "retired.json").write_bytes(orjson.dumps({old_kid: int(time.time()) - 4000}))
    pruned = run(env, "keys", "prune", "--json")
    assert pruned.code == 0 and pruned.json() == {"pruned": [old_kid], "kept": []}
    with pytest.raises(jwt_claims.InvalidToken, match="unknown"):
        verify(redis_client, before, settings.issuer_url, "ES256")
    assert verify(redis_client, after, settings.issuer_url, "ES256")


@pytest.mark.parametrize(
    ("on_disk", "configured", "reason"),
    [("RS256", "ES256", "is an RSA key"), ("ES256", "RS256", "is an EC P-256 key")],
)
def test_keys_commands_refuse_a_directory_of_another_algorithm(
    redis_url: str, empty_keys_dir: Path, on_disk: str, configured: str, reason: str
) -> None:
    keys_dir = empty_keys_dir
    key = add_key(keys_dir, generate_private_key(on_disk), make_current=True)
    env = admin_env(redis_url, keys_dir, JWT_ALGORITHM=configured)
    for command in ("rotate", "list", "prune"):
        refused = run(env, "keys", command)
        assert refused.code == 2, (command, refused.err)
        assert f"{keys_dir}/{key.kid}.pem {reason}" in refused.err
        assert f"JWT_ALGORITHM={configured}" in refused.err
    assert [p.name for p in keys_dir.glob("*.pem")] == [f"{key.kid}.pem"]  # nothing written
