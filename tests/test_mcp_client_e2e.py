"""A real MCP client (the official SDK) against the gateway, start to finish, through each proxy.

The client is given only the server URL, ``https://mcp-a.example.com/mcp`` of the shipped example
gateway (``deploy/``); the test's "DNS" sends that host to the proxy's loopback port, on plain
http, as a TLS-terminating balancer would. It gets 401, reads our protected resource metadata,
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
import httpx2
import pytest
from mcp.client import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import MCP_DEFAULT_SSE_READ_TIMEOUT, MCP_DEFAULT_TIMEOUT
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
from testsupport.proxies import DOMAIN, MCP_A, MCP_A_HOST
from testsupport.service import ServiceProcess, python_module

ACCESS_TOKEN_LIFETIME = 3
SERVER_URL = MCP_A + "/mcp"
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


class PublicHosts(httpx2.AsyncHTTPTransport):
    """The example's public hosts resolved to one proxy's loopback port (plain http); the Host
    header stays the public one, so the proxy routes exactly as it would in production."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self.port = port

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.host.endswith("." + DOMAIN):
            request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self.port)
        return await super().handle_async_request(request)


@pytest.fixture(scope="module")
def mcp_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    directory = tmp_path_factory.mktemp("mcp-gateway")
    demo = ServiceProcess(
        python_module("devstack.demo_mcp", "--host", "127.0.0.1", "--port", "{port}"),
        {"DEMO_MCP_ALLOWED_HOSTS": MCP_A_HOST},  # its DNS-rebinding check sees the public Host
        directory / "demo-mcp.log",
    ).start(expect_healthy=True)
    try:
        issuer_env = {"ACCESS_TOKEN_LIFETIME": str(ACCESS_TOKEN_LIFETIME)}
        # The tools.example.com services are not used here; the demo server stands in for them.
        ports = {"mcp_a": demo.port, "github": demo.port, "jira": demo.port}
        with running_gateway(directory, upstreams=ports, issuer_env=issuer_env) as gw:
            yield gw
    finally:
        demo.stop()


def text_of(result: Any) -> str:
    assert not result.is_error, result
    return "".join(getattr(block, "text", "") for block in result.content)


async def run_client(port: int, provider: OAuthClientProvider, *calls: str) -> list[str]:
    http = httpx2.AsyncClient(
        auth=provider,
        timeout=httpx2.Timeout(MCP_DEFAULT_TIMEOUT, read=MCP_DEFAULT_SSE_READ_TIMEOUT),
        transport=PublicHosts(port),
    )
    async with http, Client(streamable_http_client(SERVER_URL, http_client=http)) as client:
        return [text_of(await client.call_tool(tool, {"text": tool})) for tool in calls]


def test_mcp_sdk_client_logs_in_calls_refreshes_and_is_refused_after_revocation(
    mcp_gateway: Gateway, proxy: str, tmp_path: Path
) -> None:
    port = mcp_gateway.port(proxy)
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
        SERVER_URL, metadata, storage, agent.redirect_handler, agent.callback_handler
    )

    # Only the URL: 401 -> PRM -> issuer metadata -> registration -> consent -> GitHub -> token.
    assert anyio.run(run_client, port, provider, "echo", "whoami") == ["echo", "octocat"]
    assert len(agent.visits) == 1 and storage.client is not None
    authorize = dict(parse_qsl(urlsplit(agent.visits[0]).query))
    assert authorize["resource"].rstrip("/") == MCP_A
    first = storage.tokens[-1]
    assert first.refresh_token and first.expires_in == ACCESS_TOKEN_LIFETIME

    # After expiry the provider refreshes by itself (no second login) and the call goes through.
    time.sleep(ACCESS_TOKEN_LIFETIME + 1)
    assert anyio.run(run_client, port, provider, "echo") == ["echo"]
    assert len(agent.visits) == 1, "a refresh must not send the user through login again"
    latest = storage.tokens[-1]
    assert latest.access_token != first.access_token
    assert latest.refresh_token and latest.refresh_token != first.refresh_token

    # Revoking the refresh token ends the grant: its access token is refused at the proxy on the
    # next request, and the refresh token no longer refreshes.
    http = httpx.Client(timeout=10)
    client = RegisteredClient(storage.client.client_id, None, "", REDIRECT_URI)
    assert revoke(http, issuer_url, client, latest.refresh_token).status_code == 200
    refused = mcp_gateway.request(
        proxy, "POST", MCP_A_HOST, "/mcp", token=latest.access_token, json={}
    )
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert (
        refresh(http, issuer_url, client, latest.refresh_token).json()["error"] == "invalid_grant"
    )
