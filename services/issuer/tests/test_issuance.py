"""start_grant / mint_access_token: the JWT contract (RFC 9068) and the records behind it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import jwt
import orjson
import redis

from authgate_issuer.oauth.credentials import hash_secret
from authgate_issuer.oauth.issuance import TokenResponse, start_grant
from authgate_issuer.settings import IssuerSettings
from authgate_shared import claims as jwt_claims
from authgate_shared import redis_keys
from testsupport.issuer import issuer_env
from testsupport.issuer_ctx import issuer_context

FIXED_NOW = 1_700_000_000.0


def mint(settings: IssuerSettings, resources: list[str]) -> tuple[TokenResponse, dict, str]:
    async def go():
        async with issuer_context(settings, clock=lambda: FIXED_NOW) as ctx:
            tokens = await start_grant(
                ctx,
                client_id="c1",
                username="OctoCat",
                github_id="583231",
                scope="mcp:*",
                resources=resources,
            )
            claims = jwt_claims.decode(
                tokens.access_token,
                keys=ctx.keys.verification_keys,
                algorithm=ctx.keys.current.algorithm,
                issuer=settings.issuer_url,
                now=FIXED_NOW,
            )
            return tokens, claims, ctx.keys.current.kid

    return asyncio.run(go())


def test_start_grant_mints_an_rfc9068_token(
    settings: IssuerSettings, redis_client: redis.Redis
) -> None:
    tokens, claims, kid = mint(settings, ["https://a.example.com", "https://b.example.com"])
    assert jwt.get_unverified_header(tokens.access_token) == {
        "alg": "RS256",
        "typ": "at+jwt",
        "kid": kid,
    }
    assert claims == {
        "iss": "https://auth.example.com",
        "sub": "github|OctoCat",
        "aud": ["https://a.example.com", "https://b.example.com"],
        "exp": int(FIXED_NOW) + settings.access_token_lifetime,
        "iat": int(FIXED_NOW),
        "nbf": int(FIXED_NOW),
        "jti": tokens.jti,
        "scope": "mcp:*",
        "client_id": "c1",
        "github_username": "OctoCat",
        "github_id": "583231",
    }
    assert tokens.body() == {
        "access_token": tokens.access_token,
        "token_type": "Bearer",
        "expires_in": settings.access_token_lifetime,
        "refresh_token": tokens.refresh_token,
        "scope": "mcp:*",
    }
    gid, _, secret = tokens.refresh_token.partition(".")
    assert gid == tokens.grant_id and len(secret) >= 43
    assert tokens.jti.partition(".")[0] == tokens.grant_id
    stored = redis_client.hget(redis_keys.grant(gid), "refresh_hash")
    assert stored == hash_secret(tokens.refresh_token).encode()
    record = orjson.loads(redis_client.get(redis_keys.token(tokens.jti)))
    assert record["aud"] == claims["aud"]
    # user_tokens is keyed case-insensitively (GitHub logins are case-insensitive).
    assert redis_client.zscore(redis_keys.user_tokens("octocat"), tokens.jti) is not None


def test_no_resource_means_the_gateway_audience(settings: IssuerSettings) -> None:
    _, claims, _ = mint(settings, [])
    assert claims["aud"] == [jwt_claims.GATEWAY_AUDIENCE] == ["urn:authgate:gateway"]


def test_hs256_deployments_sign_with_the_shared_secret(redis_url: str, keys_dir: Path) -> None:
    secret = "s" * 40
    env = issuer_env(redis_url, keys_dir, JWT_ALGORITHM="HS256", GATEWAY_JWT_SECRET=secret)
    tokens, claims, _ = mint(IssuerSettings.from_env(env), [])
    assert jwt.get_unverified_header(tokens.access_token)["alg"] == "HS256"
    decoded = jwt.decode(
        tokens.access_token,
        secret,
        algorithms=["HS256"],
        options={
            "verify_aud": False,
            "verify_exp": False,
            "verify_iat": False,
            "verify_nbf": False,
        },
    )
    assert decoded["jti"] == claims["jti"]


def test_tokens_are_unique(settings: IssuerSettings) -> None:
    first, _, _ = mint(settings, [])
    second, _, _ = mint(settings, [])
    assert first.grant_id != second.grant_id
    assert first.refresh_token != second.refresh_token
    assert first.jti != second.jti
