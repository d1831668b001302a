"""A real MCP client (the official SDK) against the gateway, start to finish, through each proxy.

The client is given only the server URL. It gets 401, reads our protected resource metadata,
discovers and registers with the issuer, sends the user through consent and the GitHub stand-in
(its redirect handler plays the browser with httpx), calls the demo server's tools, refreshes
the access token after it expires, and is refused once the grant is revoked.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import anyio
import httpx
import pytest
from mcp.client import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)
from pydantic import AnyUrl

from testsupport.browser_flow import Browser
from testsupport.flows import RegisteredClient, refresh, revoke
from testsupport.gateway import Gateway, running_gateway
from testsupport.github_standin import standin_login
from testsupport.ports import free_port
from testsupport.service import ServiceProcess, python_module

ACCESS_TOKEN_LIFETIME = 3
REDIRECT_URI = f"http://127.0.0.1:{free_port()}/callback"


class MemoryStorage:
    """The SDK's TokenStorage, keeping every token set so the test can see refreshes."""

    def __init__(self) -> None:
        self.tokens: list[OAuthToken] = []
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens[-1] if self.tokens else None

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens.append(tokens)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class UserAgent:
    """What the user's browser does with the authorize URL: consent, then the stand-in login."""

    def __init__(self, issuer_url: str) -> None:
        self.issuer_url = issuer_url
        self.visits: list[str] = []
        self.params: dict[str, str] = {}

    def follow(self, authorize_url: str) -> None:
        self.visits.append(authorize_url)
        browser = Browser(self.issuer_url)
        response = browser.consent(browser.get(authorize_url))
        assert response.status_code in (302, 303), response.text
        callback = standin_login(browser.github, response.headers["location"], "octocat")
        response = browser.get(callback)
        assert response.status_code == 302, response.text
        location = response.headers["location"]
        assert location.startswith(REDIRECT_URI + "?"), location
        self.params = dict(parse_qsl(urlsplit(location).query))

    async def redirect_handler(self, authorize_url: str) -> None:
        await anyio.to_thread.run_sync(self.follow, authorize_url)

    async def callback_handler(self) -> AuthorizationCodeResult:
        p = self.params
        return AuthorizationCodeResult(code=p["code"], state=p.get("state"), iss=p.get("iss"))


@pytest.fixture(scope="module")
def mcp_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    directory = tmp_path_factory.mktemp("mcp-gateway")
    demo = ServiceProcess(
        python_module("devstack.demo_mcp", "--host", "127.0.0.1", "--port", "{port}"),
        {},
        directory / "demo-mcp.log",
    ).start(expect_healthy=True)
    try:
        issuer_env = {"ACCESS_TOKEN_LIFETIME": str(ACCESS_TOKEN_LIFETIME)}
        with running_gateway(directory, upstream_port=demo.port, issuer_env=issuer_env) as gw:
            yield gw
    finally:
        demo.stop()


def text_of(result: Any) -> str:
    assert not result.is_error, result
    return "".join(getattr(block, "text", "") for block in result.content)


async def run_client(server_url: str, provider: OAuthClientProvider, *calls: str) -> list[str]:
    http = create_mcp_http_client(auth=provider)
    async with http, Client(streamable_http_client(server_url, http_client=http)) as client:
        return [text_of(await client.call_tool(tool, {"text": tool})) for tool in calls]


def test_mcp_sdk_client_logs_in_calls_refreshes_and_is_refused_after_revocation(
    mcp_gateway: Gateway, proxy: str, tmp_path: Path
) -> None:
    server_url = mcp_gateway.url(proxy) + "/mcp"
    issuer_url = mcp_gateway.stack.issuer_url
    storage, agent = MemoryStorage(), UserAgent(issuer_url)
    metadata = OAuthClientMetadata(
        client_name="Authgate end-to-end (MCP Python SDK)",
        redirect_uris=[AnyUrl(REDIRECT_URI)],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="none",
        scope="mcp:*",
    )
    provider = OAuthClientProvider(
        server_url, metadata, storage, agent.redirect_handler, agent.callback_handler
    )

    # Only the URL: 401 -> PRM -> issuer metadata -> registration -> consent -> GitHub -> token.
    assert anyio.run(run_client, server_url, provider, "echo", "whoami") == ["echo", "octocat"]
    assert len(agent.visits) == 1 and storage.client is not None
    authorize = dict(parse_qsl(urlsplit(agent.visits[0]).query))
    assert authorize["resource"].rstrip("/") == mcp_gateway.url(proxy)
    first = storage.tokens[-1]
    assert first.refresh_token and first.expires_in == ACCESS_TOKEN_LIFETIME

    # After expiry the provider refreshes by itself (no second login) and the call goes through.
    time.sleep(ACCESS_TOKEN_LIFETIME + 1)
    assert anyio.run(run_client, server_url, provider, "echo") == ["echo"]
    assert len(agent.visits) == 1, "a refresh must not send the user through login again"
    latest = storage.tokens[-1]
    assert latest.access_token != first.access_token
    assert latest.refresh_token and latest.refresh_token != first.refresh_token

    # Revoking the refresh token ends the grant: its access token is refused at the proxy on the
    # next request, and the refresh token no longer refreshes.
    http = httpx.Client(timeout=10)
    client = RegisteredClient(storage.client.client_id, None, "", REDIRECT_URI)
    assert revoke(http, issuer_url, client, latest.refresh_token).status_code == 200
    bearer = {"Authorization": f"Bearer {latest.access_token}"}
    refused = http.post(server_url, headers=bearer, json={})
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert (
        refresh(http, issuer_url, client, latest.refresh_token).json()["error"] == "invalid_grant"
    )
