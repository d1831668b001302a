"""/verify in-process against real Redis, with tokens minted by the issuer's start_grant.

Every refusal is checked for its status, its RFC 6750/9728 challenge and the reason it was
counted under, so a case passes only when the check it targets is what refused the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import orjson
import pytest
import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from authgate_shared import redis_keys
from authgate_shared.claims import GATEWAY_AUDIENCE
from authgate_shared.keys import rsa_public_jwk
from authgate_verifier.app import VerifierApp
from authgate_verifier.settings import VerifierSettings
from testsupport.tokens import Minted, TokenMinter
from testsupport.verifier import MCP_A, MCP_B, bearer, call, forwarded, running, verifier_env

pytestmark = pytest.mark.anyio
META_A = f'resource_metadata="{MCP_A}/.well-known/oauth-protected-resource"'
ATTACKER = rsa.generate_private_key(65537, 2048)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Env:
    minter: TokenMinter
    app: VerifierApp
    good: Minted


@pytest.fixture
async def env(redis_url: str, keys_dir: Path) -> AsyncIterator[Env]:
    async with TokenMinter.open(redis_url, keys_dir) as minter:
        good = await minter.mint(resources=[MCP_A])
        app = VerifierApp(VerifierSettings.from_env(verifier_env(redis_url)))
        async with running(app):
            yield Env(minter, app, good)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header = jwt.get_unverified_header(token)
    return header, jwt.decode(token, options={"verify_signature": False})


def resign(e: Env, header: dict[str, Any] | None = None, key: Any = None, **claims: Any) -> str:
    """The good token's claims with ``claims`` changed, signed with the issuer's key."""
    h, c = parts(e.good.token)
    c.update(claims)
    for name, value in list(c.items()):
        if value is None:
            del c[name]
    h.update(header or {})
    return jwt.encode(c, key or e.minter.ctx.keys.current.key, algorithm="RS256", headers=h)


def unsigned(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    return f"{b64(orjson.dumps(header))}.{b64(orjson.dumps(payload))}.{b64(signature)}"


def alg_none(e: Env) -> str:
    h, c = parts(e.good.token)
    return unsigned({**h, "alg": "none"}, c)


def hs256_with_public_key(e: Env) -> str:
    h, c = parts(e.good.token)
    pem = e.minter.ctx.keys.current.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    head = f"{b64(orjson.dumps({**h, 'alg': 'HS256'}))}.{b64(orjson.dumps(c))}"
    return f"{head}.{b64(hmac.new(pem, head.encode(), hashlib.sha256).digest())}"


def tampered(e: Env) -> str:
    head, payload, sig = e.good.token.split(".")
    claims = orjson.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["github_username"] = "admin"
    return f"{head}.{b64(orjson.dumps(claims))}.{sig}"


ATTACKER_JWK = rsa_public_jwk(ATTACKER.public_key())
now = int(time.time())
CASES: dict[str, tuple[Callable[[Env], str], set[str]]] = {
    "expired": (lambda e: resign(e, exp=now - 3600, iat=now - 7200, nbf=now - 7200), {"expired"}),
    "not yet valid": (lambda e: resign(e, nbf=now + 3600), {"not_yet_valid"}),
    "issued in the future": (lambda e: resign(e, iat=now + 3600, nbf=now), {"not_yet_valid"}),
    "wrong iss": (lambda e: resign(e, iss="https://evil.example.com"), {"wrong_issuer"}),
    "no jti": (lambda e: resign(e, jti=None), {"malformed"}),
    "wrong typ": (lambda e: resign(e, header={"typ": "JWT"}), {"wrong_type"}),
    "alg none": (alg_none, {"bad_signature"}),
    "HS256 signed with the public key": (hs256_with_public_key, {"bad_signature"}),
    "unknown kid": (
        lambda e: resign(e, header={"kid": ATTACKER_JWK["kid"]}, key=ATTACKER),
        {"unknown_kid"},
    ),
    "jku header": (
        lambda e: resign(
            e, header={"kid": ATTACKER_JWK["kid"], "jku": "https://evil.example/jwks"}, key=ATTACKER
        ),
        {"unknown_kid"},
    ),
    "x5u header": (
        lambda e: resign(e, header={"x5u": "https://evil.example/cert"}, key=ATTACKER),
        {"bad_signature"},
    ),
    "embedded jwk header": (
        lambda e: resign(e, header={"jwk": ATTACKER_JWK}, key=ATTACKER),
        {"bad_signature"},
    ),
    "tampered payload": (tampered, {"bad_signature"}),
    "truncated": (lambda e: e.good.token[:-12], {"bad_signature", "malformed"}),
    "garbage": (lambda e: "garbage", {"malformed"}),
    "not base64": (lambda e: "a.b!.c", {"malformed"}),
    "huge header": (lambda e: resign(e, header={"pad": "A" * 20000}), {"malformed"}),
    "empty": (lambda e: "", {"malformed"}),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_bad_tokens_get_401_invalid_token(env: Env, case: str) -> None:
    build, reasons = CASES[case]
    response = await call(env.app, headers={**forwarded(MCP_A), **bearer(build(env))})
    assert response.status == 401, response.body
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="invalid_token"') and META_A in challenge
    assert response.json()["error"] == "invalid_token"
    assert "x-user-id" not in response.headers
    counted = {k for k, v in env.app.metrics.decisions.items() if v}
    assert counted & reasons, counted
    # The control: the genuine token still passes on the same app.
    ok = await call(env.app, headers={**forwarded(MCP_A), **bearer(env.good.token)})
    assert ok.status == 200


async def test_valid_token_200_with_identity_headers(env: Env) -> None:
    response = await call(env.app, headers={**forwarded(MCP_A), **bearer(env.good.token)})
    assert (response.status, response.body) == (200, b"")
    h = response.headers
    assert h["x-user-id"] == "github|octocat" and h["x-user-name"] == "octocat"
    assert h["x-client-id"] == "test-client" and h["x-scopes"] == "mcp:*"
    # No token passthrough by default (FORWARD_AUTH_TOKEN_HEADER=false).
    assert "x-auth-token" not in h


async def test_token_is_forwarded_only_when_configured(env: Env, redis_url: str) -> None:
    settings = VerifierSettings.from_env(verifier_env(redis_url, FORWARD_AUTH_TOKEN_HEADER="true"))
    assert any("FORWARD_AUTH_TOKEN_HEADER=true" in w for w in settings.warnings)
    async with running(VerifierApp(settings)) as app:
        response = await call(app, headers={**forwarded(MCP_A), **bearer(env.good.token)})
        assert response.status == 200
        assert response.headers["x-auth-token"] == env.good.token


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "BeArEr"])
async def test_scheme_is_case_insensitive(env: Env, scheme: str) -> None:
    response = await call(env.app, headers={**forwarded(MCP_A), **bearer(env.good.token, scheme)})
    assert response.status == 200


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic dXNlcjpwYXNz"}])
async def test_no_bearer_token_gets_bare_challenge(env: Env, headers: dict[str, str]) -> None:
    response = await call(env.app, headers={**forwarded(MCP_A), **headers})
    assert response.status == 401
    # MCP 2025-11-25 scope selection: the scope to ask for (the issuer's default here).
    assert response.headers["www-authenticate"] == f'Bearer {META_A}, scope="mcp:*"'
    assert response.headers["content-type"] == "application/json" and response.json()


async def test_token_for_another_service_is_refused(env: Env) -> None:
    response = await call(env.app, headers={**forwarded(MCP_B), **bearer(env.good.token)})
    assert response.status == 401
    assert f'{MCP_B}/.well-known/oauth-protected-resource"' in response.headers["www-authenticate"]
    assert env.app.metrics.decisions["wrong_audience"] == 1


async def test_canonical_host_variants_match(env: Env) -> None:
    headers = {**forwarded(MCP_A), "X-Forwarded-Host": "MCP-A.Example.COM:443"}
    response = await call(env.app, headers={**headers, **bearer(env.good.token)})
    assert response.status == 200


@pytest.mark.parametrize(
    "drop",
    [("X-Forwarded-Host",), ("X-Forwarded-Proto",), ("X-Forwarded-Host", "X-Forwarded-Proto")],
)
async def test_missing_forwarded_headers_are_400_even_with_a_good_token(
    env: Env, drop: tuple[str, ...]
) -> None:
    headers = {k: v for k, v in forwarded(MCP_A).items() if k not in drop}
    response = await call(env.app, headers={**headers, **bearer(env.good.token)}, method="POST")
    assert response.status == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    "raw",
    [
        [(b"x-forwarded-host", b"mcp-a.example.com"), (b"x-forwarded-host", b"evil.example.com")],
        [(b"x-forwarded-host", b"mcp-a.example.com/x")],
        [(b"x-forwarded-host", b"user@mcp-a.example.com")],
    ],
)
async def test_ambiguous_forwarded_host_is_400(env: Env, raw: list[tuple[bytes, bytes]]) -> None:
    headers = [(b"x-forwarded-proto", b"https"), *raw]
    headers.append((b"authorization", f"Bearer {env.good.token}".encode()))
    assert (await call(env.app, headers=headers)).status == 400


@pytest.mark.parametrize("username", ["evil\r\nX-User-Id: admin", "evil\nx", "tab\tname", "ünï"])
async def test_header_injection_through_claims_is_refused(env: Env, username: str) -> None:
    minted = await env.minter.mint(resources=[MCP_A], username=username)
    response = await call(env.app, headers={**forwarded(MCP_A), **bearer(minted.token)})
    assert response.status == 401
    assert all("\n" not in v and "\r" not in v for v in response.headers.values())
    assert env.app.metrics.decisions["unsafe_claims"] == 1


async def test_revoked_token_is_refused_on_the_next_request(
    env: Env, redis_client: redis.Redis
) -> None:
    headers = {**forwarded(MCP_A), **bearer(env.good.token)}
    assert (await call(env.app, headers=headers)).status == 200
    redis_client.delete(redis_keys.token(env.good.jti))
    response = await call(env.app, headers=headers)
    assert response.status == 401 and env.app.metrics.decisions["revoked"] == 1


async def test_gateway_token_refused_unless_explicitly_allowed(env: Env, redis_url: str) -> None:
    gateway = await env.minter.mint(resources=[])
    assert parts(gateway.token)[1]["aud"] == [GATEWAY_AUDIENCE]
    # The default (REQUIRE_RESOURCE_TOKENS=true): refused everywhere, with RFC 6750's code.
    refused = await call(env.app, headers={**forwarded(MCP_A), **bearer(gateway.token)})
    assert refused.status == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert env.app.metrics.decisions["gateway_token"] == 1
    ok = await call(env.app, headers={**forwarded(MCP_A), **bearer(env.good.token)})
    assert ok.status == 200
    lax_settings = VerifierSettings.from_env(
        verifier_env(redis_url, REQUIRE_RESOURCE_TOKENS="false")
    )
    assert any("REQUIRE_RESOURCE_TOKENS=false" in w for w in lax_settings.warnings)
    async with running(VerifierApp(lax_settings)) as lax:
        for resource in (MCP_A, MCP_B):
            response = await call(lax, headers={**forwarded(resource), **bearer(gateway.token)})
            assert response.status == 200


async def test_required_scope_gives_403_with_scope_challenge(env: Env, redis_url: str) -> None:
    app = VerifierApp(
        VerifierSettings.from_env(
            verifier_env(
                redis_url,
                REQUIRED_SCOPES="mcp-a.example.com=mcp:admin",
                FORWARD_AUTH_TOKEN_HEADER="false",
            )
        )
    )
    admin = await env.minter.mint(resources=[MCP_A], scope="mcp:* mcp:admin")
    async with running(app):
        response = await call(app, headers={**forwarded(MCP_A), **bearer(env.good.token)})
        assert response.status == 403
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith('Bearer error="insufficient_scope", scope="mcp:admin"')
        assert META_A in challenge
        ok = await call(app, headers={**forwarded(MCP_A), **bearer(admin.token)})
        assert ok.status == 200 and "x-auth-token" not in ok.headers


async def test_path_prefixed_resources(env: Env, redis_url: str) -> None:
    tools = "https://tools.example.com"
    app = VerifierApp(
        VerifierSettings.from_env(
            verifier_env(redis_url, RESOURCE_PATH_PREFIXES="tools.example.com/github")
        )
    )
    minted = await env.minter.mint(resources=[f"{tools}/github"])
    async with running(app):
        auth = bearer(minted.token)
        ok = await call(app, headers={**forwarded(tools, "/github/mcp"), **auth})
        assert ok.status == 200
        other = await call(app, headers={**forwarded(tools, "/jira/mcp"), **auth})
        assert other.status == 401
        sneaky = await call(app, headers={**forwarded(tools, "/github/../jira/mcp"), **auth})
        assert sneaky.status == 400
        missing = await call(app, headers=forwarded(tools, "/github/mcp"))
        assert (
            f'{tools}/.well-known/oauth-protected-resource/github"'
            in (missing.headers["www-authenticate"])
        )


async def test_protected_resource_metadata(env: Env, redis_url: str) -> None:
    response = await call(env.app, "/.well-known/oauth-protected-resource", forwarded(MCP_B))
    assert response.status == 200
    assert response.json() == {
        "resource": MCP_B,
        "authorization_servers": ["https://auth.example.com"],
        "scopes_supported": ["mcp:*"],
        "bearer_methods_supported": ["header"],
    }
    app = VerifierApp(
        VerifierSettings.from_env(
            verifier_env(redis_url, RESOURCE_PATH_PREFIXES="tools.example.com/github")
        )
    )
    fwd = forwarded("https://tools.example.com")
    async with running(app):
        suffixed = await call(app, "/.well-known/oauth-protected-resource/github", fwd)
        assert suffixed.json()["resource"] == "https://tools.example.com/github"
        assert (await call(app, "/.well-known/oauth-protected-resource/nope", fwd)).status == 404
    assert (await call(env.app, "/.well-known/oauth-protected-resource", {})).status == 400


async def test_health_and_metrics(env: Env) -> None:
    health = await call(env.app, "/health")
    assert health.status == 200 and health.json()["status"] == "healthy"
    await call(env.app, headers={**forwarded(MCP_A), **bearer(env.good.token)})
    metrics = (await call(env.app, "/metrics")).body.decode()
    assert 'authgate_verifier_decisions_total{outcome="allowed"} 1.0' in metrics
    assert "authgate_verifier_verify_duration_seconds_count 1.0" in metrics
    assert 'authgate_verifier_verify_duration_seconds_bucket{le="+Inf"} 1.0' in metrics
    assert 'authgate_verifier_requests_total{route="health"} 1.0' in metrics
    assert (await call(env.app, "/nope")).status == 404
