"""Upstream-token injection's settings: the exchange client required only when a service
injects, and the client's own token never forwarded beside the upstream token."""

from __future__ import annotations

from pathlib import Path

import pytest

from authgate_shared.config import ConfigError
from authgate_verifier.app import VerifierApp
from testsupport.exchange_stub import (
    CLIENT_ID,
    POLICY,
    SECRET,
    UPSTREAM,
    Exchange,
    settings,
)
from testsupport.tokens import TokenMinter
from testsupport.verifier import MCP_A, MCP_B, bearer, call, forwarded, running

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_exchange_settings_are_required_only_when_a_service_injects(
    redis_url: str, policy: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as raised:
        settings(redis_url, policy, TOKEN_EXCHANGE_URL="ftp://x")
    text = "\n".join(raised.value.problems)
    assert "TOKEN_EXCHANGE_CLIENT_ID is required" in text and MCP_A in text
    assert "TOKEN_EXCHANGE_CLIENT_SECRET is required" in text
    assert "TOKEN_EXCHANGE_URL must be an absolute http(s) URL" in text
    plain = tmp_path / "plain.yaml"
    plain.write_text(f"services:\n  - resource: {MCP_A}\n")
    assert settings(redis_url, plain).token_exchange is None


def test_the_clients_token_is_never_forwarded_beside_the_upstream_token(
    redis_url: str, policy: Path, tmp_path: Path
) -> None:
    exchanger = {
        "TOKEN_EXCHANGE_URL": "http://issuer:8000/token",
        "TOKEN_EXCHANGE_CLIENT_ID": CLIENT_ID,
        "TOKEN_EXCHANGE_CLIENT_SECRET": SECRET,
    }
    with pytest.raises(ConfigError) as raised:
        settings(redis_url, policy, FORWARD_AUTH_TOKEN_HEADER="true", **exchanger)
    assert any(
        f"FORWARD_AUTH_TOKEN_HEADER=true would send the client's token to {MCP_A}" in p
        for p in raised.value.problems
    )
    # Saying forward_token: false on the injecting service is the way out.
    explicit = tmp_path / "explicit.yaml"
    explicit.write_text(
        POLICY.replace(
            "inject_upstream_token: true", "inject_upstream_token: true\n    forward_token: false"
        )
    )
    ok_settings = settings(redis_url, explicit, FORWARD_AUTH_TOKEN_HEADER="true", **exchanger)
    assert ok_settings.token_exchange is not None
    assert any("inject_upstream_token" in w for w in ok_settings.warnings)


async def test_global_forwarding_still_leaves_the_injecting_service_without_x_auth_token(
    redis_url: str, keys_dir: Path, tmp_path: Path, exchange: Exchange
) -> None:
    path = tmp_path / "explicit.yaml"
    path.write_text(
        POLICY.replace(
            "inject_upstream_token: true", "inject_upstream_token: true\n    forward_token: false"
        )
    )
    exchanger = {
        "TOKEN_EXCHANGE_URL": exchange.url,
        "TOKEN_EXCHANGE_CLIENT_ID": CLIENT_ID,
        "TOKEN_EXCHANGE_CLIENT_SECRET": SECRET,
    }
    app = VerifierApp(settings(redis_url, path, FORWARD_AUTH_TOKEN_HEADER="true", **exchanger))
    async with TokenMinter.open(redis_url, keys_dir) as minter, running(app):
        token = (await minter.mint(resources=[MCP_A, MCP_B])).token
        injected = await call(app, headers={**forwarded(MCP_A), **bearer(token)})
        other = await call(app, headers={**forwarded(MCP_B), **bearer(token)})
    assert injected.headers["authorization"] == f"Bearer {UPSTREAM}"
    assert "x-auth-token" not in injected.headers
    assert other.headers["x-auth-token"] == token and "authorization" not in other.headers
