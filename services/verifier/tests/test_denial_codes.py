"""Every token refusal of /verify carries RFC 6750 §3.1's ``invalid_token``, in the challenge and
in the body, and odd claim shapes are refused as 401s, never 500s (in-process, real Redis).

A client reads the error code to decide what to do next (``invalid_token``: get a new token;
``insufficient_scope``: step up), so a refusal under the wrong code sends it down the wrong path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import redis

from authgate_shared import redis_keys
from authgate_verifier.app import VerifierApp
from authgate_verifier.settings import VerifierSettings
from testsupport.tokens import Minted, TokenMinter
from testsupport.verifier import (
    MCP_A,
    MCP_B,
    AsgiResponse,
    bearer,
    call,
    forwarded,
    running,
    verifier_env,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def minter(redis_url: str, keys_dir: Path) -> AsyncIterator[TokenMinter]:
    async with TokenMinter.open(redis_url, keys_dir) as opened:
        yield opened


@pytest.fixture
async def app(redis_url: str, minter: TokenMinter) -> AsyncIterator[VerifierApp]:
    async with running(VerifierApp(VerifierSettings.from_env(verifier_env(redis_url)))) as a:
        yield a


async def verify(app: VerifierApp, token: str, resource: str = MCP_A) -> AsgiResponse:
    return await call(app, headers={**forwarded(resource), **bearer(token)})


def assert_invalid_token(response: AsgiResponse, app: VerifierApp, reason: str) -> None:
    assert response.status == 401, response.body
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token", ')
    assert response.json()["error"] == "invalid_token"
    assert "x-user-id" not in response.headers
    assert app.metrics.decisions[reason] == 1, app.metrics.decisions


def resigned(minter: TokenMinter, good: Minted, **claims: Any) -> str:
    """``good``'s claims changed by ``claims`` (None drops one), signed with the issuer's key."""
    header = jwt.get_unverified_header(good.token)
    payload = jwt.decode(good.token, options={"verify_signature": False})
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    key = minter.ctx.keys.current.key
    return jwt.encode(payload, key, algorithm=header["alg"], headers=header)


async def test_wrong_audience_is_invalid_token(app: VerifierApp, minter: TokenMinter) -> None:
    good = await minter.mint(resources=[MCP_A])
    assert (await verify(app, good.token)).status == 200  # the control
    assert_invalid_token(await verify(app, good.token, MCP_B), app, "wrong_audience")


async def test_a_refused_gateway_token_is_invalid_token(
    app: VerifierApp, minter: TokenMinter
) -> None:
    gateway = await minter.mint(resources=[])
    assert_invalid_token(await verify(app, gateway.token), app, "gateway_token")


@pytest.mark.parametrize("username", ["del\x7f", "unit\x1fsep", "a,b"])
async def test_unsafe_claims_are_invalid_token(
    app: VerifierApp, minter: TokenMinter, username: str
) -> None:
    minted = await minter.mint(resources=[MCP_A], username=username)
    assert_invalid_token(await verify(app, minted.token), app, "unsafe_claims")


async def test_a_revoked_token_is_invalid_token(
    app: VerifierApp, minter: TokenMinter, redis_client: redis.Redis
) -> None:
    good = await minter.mint(resources=[MCP_A])
    assert (await verify(app, good.token)).status == 200
    redis_client.delete(redis_keys.token(good.jti))
    assert_invalid_token(await verify(app, good.token), app, "revoked")


@pytest.mark.parametrize("scope", [["mcp:*"], 7, {"mcp:*": True}])
async def test_a_scope_that_is_not_a_string_is_401(
    app: VerifierApp, minter: TokenMinter, scope: Any
) -> None:
    good = await minter.mint(resources=[MCP_A])
    token = resigned(minter, good, scope=scope)
    assert_invalid_token(await verify(app, token), app, "unsafe_claims")


async def test_a_token_without_scope_forwards_empty_scopes(
    app: VerifierApp, minter: TokenMinter
) -> None:
    good = await minter.mint(resources=[MCP_A])
    response = await verify(app, resigned(minter, good, scope=None))
    assert response.status == 200, response.body
    assert response.headers["x-scopes"] == ""
    assert response.headers["x-user-id"] == "github|octocat"


async def test_a_signed_token_without_sub_is_refused(app: VerifierApp, minter: TokenMinter) -> None:
    good = await minter.mint(resources=[MCP_A])
    assert_invalid_token(await verify(app, resigned(minter, good, sub=None)), app, "malformed")
