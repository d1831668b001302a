"""CORS at the verifier (cors, denials): a forwarded preflight passes without identity, nothing
else that looks like one does; every refusal is readable cross-origin with its challenge; the
challenges name the scope to ask for."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from authgate_shared.config import ConfigError
from authgate_verifier.app import VerifierApp
from authgate_verifier.settings import VerifierSettings
from testsupport.tokens import Minted, TokenMinter
from testsupport.verifier import MCP_A, bearer, call, running, verifier_env, verify_path

pytestmark = pytest.mark.anyio
ORIGIN = "http://localhost:6274"
PREFLIGHT = {
    "X-Forwarded-Method": "OPTIONS",
    "Origin": ORIGIN,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type,mcp-protocol-version",
}
IDENTITY = {"x-user-id", "x-user-name", "x-client-id", "x-scopes", "x-auth-token"}
HOST_A = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "mcp-a.example.com"}
META = f'resource_metadata="{MCP_A}/.well-known/oauth-protected-resource"'


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Env:
    app: VerifierApp
    token: Minted
    minter: TokenMinter


def bound_env(redis_url: str, **overrides: str) -> dict[str, str]:
    """The default resource source: each route's auth address names its resource."""
    return verifier_env(
        redis_url,
        RESOURCE_SOURCE="address",
        ALLOWED_RESOURCES=MCP_A,
        FORWARD_AUTH_TOKEN_HEADER="true",
        **overrides,
    )


@pytest.fixture
async def env(redis_url: str, keys_dir: Path) -> AsyncIterator[Env]:
    async with TokenMinter.open(redis_url, keys_dir) as minter:
        token = await minter.mint(resources=[MCP_A])
        app = VerifierApp(VerifierSettings.from_env(bound_env(redis_url)))
        async with running(app):
            yield Env(app, token, minter)


async def test_a_forwarded_preflight_passes_without_identity(env: Env) -> None:
    answer = await call(env.app, verify_path(MCP_A), PREFLIGHT)
    assert (answer.status, answer.body) == (200, b"")
    assert not IDENTITY & set(answer.headers), answer.headers
    assert env.app.metrics.decisions["preflight"] == 1
    # The control: the same request without the preflight's method is refused.
    refused = await call(env.app, verify_path(MCP_A), {**PREFLIGHT, "X-Forwarded-Method": "POST"})
    assert refused.status == 401


@pytest.mark.parametrize(
    "change",
    [
        {"X-Forwarded-Method": "GET"},
        {"X-Forwarded-Method": "options"},  # methods are case-sensitive (RFC 9110 §9.1)
        {"X-Forwarded-Method": None},  # the proxy did not say: never assume
        {"Origin": None},
        {"Access-Control-Request-Method": None},
        {"Access-Control-Request-Method": " "},
        {"Authorization": "Bearer not-a-token"},  # a preflight never carries credentials
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
)
async def test_nothing_else_passes_as_a_preflight(env: Env, change: dict[str, str | None]) -> None:
    headers = {k: v for k, v in {**PREFLIGHT, **change}.items() if v is not None}
    answer = await call(env.app, verify_path(MCP_A), headers)
    assert answer.status == 401 and not IDENTITY & set(answer.headers)
    assert env.app.metrics.decisions["preflight"] == 0


async def test_repeated_method_or_origin_is_no_preflight(env: Env) -> None:
    raw = [(k.lower().encode(), v.encode()) for k, v in PREFLIGHT.items()]
    for extra in [(b"x-forwarded-method", b"OPTIONS"), (b"origin", b"https://other.example")]:
        answer = await call(env.app, verify_path(MCP_A), [*raw, extra])
        assert answer.status == 401
    assert env.app.metrics.decisions["preflight"] == 0


async def test_an_unbound_preflight_is_still_a_bad_request(env: Env) -> None:
    # The route must name its resource before anything passes.
    answer = await call(env.app, "/verify", PREFLIGHT)
    assert answer.status == 400
    assert answer.headers["access-control-allow-origin"] == "*"


async def test_refusals_are_readable_cross_origin(env: Env, redis_url: str) -> None:
    origin = {"Origin": ORIGIN, "X-Forwarded-Method": "POST"}
    narrow = await env.minter.mint(resources=[MCP_A], scope="mcp:read")
    app = VerifierApp(VerifierSettings.from_env(bound_env(redis_url, REQUIRED_SCOPES="*=mcp:*")))
    async with running(app):
        answers = {
            "missing": await call(app, verify_path(MCP_A), origin),
            "invalid": await call(app, verify_path(MCP_A), {**origin, **bearer("x.y.z")}),
            "insufficient": await call(app, verify_path(MCP_A), {**origin, **bearer(narrow.token)}),
        }
        ok = await call(app, verify_path(MCP_A), {**origin, **bearer(env.token.token)})
    assert [a.status for a in answers.values()] == [401, 401, 403]
    for answer in answers.values():
        assert answer.headers["access-control-allow-origin"] == "*"
        exposed = [
            h.strip().lower() for h in answer.headers["access-control-expose-headers"].split(",")
        ]
        assert "www-authenticate" in exposed
        assert "access-control-allow-credentials" not in answer.headers
    challenges = {name: a.headers["www-authenticate"] for name, a in answers.items()}
    assert challenges == {
        "missing": f'Bearer {META}, scope="mcp:*"',
        "invalid": f'Bearer error="invalid_token", {META}, scope="mcp:*"',
        "insufficient": f'Bearer error="insufficient_scope", scope="mcp:*", {META}',
    }
    # The 200 goes to the proxy, never to the browser: no CORS headers on it.
    assert ok.status == 200 and not [h for h in ok.headers if h.startswith("access-control")]


async def test_the_503_is_readable_cross_origin(redis_url: str, keys_dir: Path) -> None:
    async with TokenMinter.open(redis_url, keys_dir) as minter:
        token = await minter.mint(resources=[MCP_A])
    env = bound_env("redis://127.0.0.1:1/0", REDIS_CONNECT_TIMEOUT_MS="200")
    public = minter.ctx.keys.current.key.public_key()
    env["GATEWAY_RSA_PUBLIC_KEY"] = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    app = VerifierApp(VerifierSettings.from_env(env))
    answer = await call(app, verify_path(MCP_A), {"Origin": ORIGIN, **bearer(token.token)})
    assert answer.status == 503 and answer.headers["retry-after"] == "1"
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "Retry-After" in answer.headers["access-control-expose-headers"]


async def test_listed_origins_are_echoed_with_vary(env: Env, redis_url: str) -> None:
    listed = bound_env(redis_url, CORS_ALLOWED_ORIGINS=f"{ORIGIN},https://ide.example")
    app = VerifierApp(VerifierSettings.from_env(listed))
    async with running(app):
        mine = await call(app, verify_path(MCP_A), {"Origin": ORIGIN})
        upper = await call(app, verify_path(MCP_A), {"Origin": "HTTPS://IDE.EXAMPLE"})
        other = await call(app, verify_path(MCP_A), {"Origin": "https://evil.example"})
        again = await call(app, verify_path(MCP_A), {"Origin": ORIGIN})
        prm = await call(app, "/.well-known/oauth-protected-resource", {**HOST_A, "Origin": ORIGIN})
    assert (
        mine.headers["access-control-allow-origin"]
        == ORIGIN
        == again.headers["access-control-allow-origin"]
    )
    assert upper.headers["access-control-allow-origin"] == "https://ide.example"
    assert "access-control-allow-origin" not in other.headers
    assert "access-control-expose-headers" not in other.headers
    for answer in (mine, upper, other):
        assert answer.status == 401 and answer.headers["vary"] == "Origin"
        assert answer.headers["www-authenticate"].startswith("Bearer resource_metadata=")
    assert prm.status == 200 and prm.headers["access-control-allow-origin"] == ORIGIN


async def test_protected_resource_metadata_answers_its_preflight(env: Env) -> None:
    path = "/.well-known/oauth-protected-resource"
    asks = {"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
    answer = await call(env.app, path, asks, method="OPTIONS")
    assert answer.status == 204
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "mcp-protocol-version" in answer.headers["access-control-allow-headers"].lower()
    plain = await call(env.app, path, {"Origin": ORIGIN}, method="OPTIONS")
    assert plain.status == 405
    document = await call(env.app, path, {**HOST_A, "Origin": ORIGIN})
    assert document.status == 200 and document.headers["access-control-allow-origin"] == "*"
    # A 404 (an unknown path suffix) is readable too, so a client falls back to the root URL.
    missing = await call(env.app, path + "/mcp", {**HOST_A, "Origin": ORIGIN})
    assert missing.status == 404 and missing.headers["access-control-allow-origin"] == "*"


async def test_default_scope_names_the_challenge_scope(env: Env, redis_url: str) -> None:
    app = VerifierApp(VerifierSettings.from_env(bound_env(redis_url, DEFAULT_SCOPE="mcp:tools")))
    async with running(app):
        answer = await call(app, verify_path(MCP_A))
    assert answer.headers["www-authenticate"] == f'Bearer {META}, scope="mcp:tools"'
    narrow = VerifierApp(
        VerifierSettings.from_env(bound_env(redis_url, REQUIRED_SCOPES="*=mcp:b mcp:a"))
    )
    async with running(narrow):
        required = await call(narrow, verify_path(MCP_A))
    assert required.headers["www-authenticate"] == f'Bearer {META}, scope="mcp:a mcp:b"'


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEFAULT_SCOPE", 'mcp:"x'),
        ("DEFAULT_SCOPE", "two scopes"),
        ("CORS_ALLOWED_ORIGINS", "https://a.example/path"),
        ("CORS_ALLOWED_ORIGINS", "*,https://a.example"),
    ],
)
def test_bad_values_stop_start_up(redis_url: str, name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        VerifierSettings.from_env(bound_env(redis_url, **{name: value}))
