"""``make run``'s GitHub tools demo services act upstream as the signed-in user, never with the
client's token: one by RFC 8693 token exchange at the issuer, one with the upstream token the
verifier injects through Traefik (policy ``inject_upstream_token``).

The stack is ``python -m devstack`` as a user runs it (testsupport.devstack_run). A real MCP
client (the official SDK) is given only a service URL; it discovers, registers, sends the user
through consent and the GitHub stand-in, and calls ``github_whoami``, which answers what the
stand-in's ``GET /user`` says about the token the server used. Once the grant is revoked the
gateway refuses the client, and the exchange itself refuses the revoked token too.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import anyio
import httpx
import httpx2
import pytest
from mcp.client import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)
from pydantic import AnyUrl

from devstack.github_standin.state import StandinState
from testsupport.browser_flow import Browser
from testsupport.devstack_run import DevstackRun
from testsupport.flows import RegisteredClient, revoke
from testsupport.github_standin import standin_login
from testsupport.ports import free_port

REDIRECT_URI = f"http://127.0.0.1:{free_port()}/callback"


class MemoryStorage:
    """The SDK's TokenStorage, in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class UserAgent:
    """The user's browser: approve on the consent page, sign in as ``login`` at the stand-in."""

    def __init__(self, issuer_url: str, login: str) -> None:
        self.issuer_url = issuer_url
        self.login = login
        self.logins = 0
        self.params: dict[str, str] = {}

    def follow(self, authorize_url: str) -> None:
        self.logins += 1
        browser = Browser(self.issuer_url)
        response = browser.consent(browser.get(authorize_url))
        assert response.status_code in (302, 303), response.text
        callback = standin_login(browser.github, response.headers["location"], self.login)
        response = browser.get(callback)
        assert response.status_code == 302, response.text
        self.params = dict(parse_qsl(urlsplit(response.headers["location"]).query))

    async def redirect_handler(self, authorize_url: str) -> None:
        await anyio.to_thread.run_sync(self.follow, authorize_url)

    async def callback_handler(self) -> AuthorizationCodeResult:
        p = self.params
        return AuthorizationCodeResult(code=p["code"], state=p.get("state"), iss=p.get("iss"))


@pytest.fixture(scope="module")
def devstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevstackRun]:
    run = DevstackRun.on_free_ports(tmp_path_factory.mktemp("devstack") / ".run")
    with run.started(timeout=180):
        yield run


def url(run: DevstackRun, name: str) -> str:
    return f"http://127.0.0.1:{run.ports[name]}"


async def call_tool(server_url: str, http: httpx2.AsyncClient) -> Any:
    async with http, Client(streamable_http_client(server_url, http_client=http)) as client:
        return await client.call_tool("github_whoami", {})


def signed_in_call(run: DevstackRun, path: str, login: str) -> tuple[Any, MemoryStorage, UserAgent]:
    """A new MCP client given only the service URL: login, then ``github_whoami``."""
    storage, agent = MemoryStorage(), UserAgent(url(run, "issuer"), login)
    metadata = OAuthClientMetadata(
        client_name=f"Authgate devstack upstream test ({path})",
        redirect_uris=[AnyUrl(REDIRECT_URI)],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="none",
    )
    server_url = f"{url(run, 'gateway')}{path}/mcp"
    provider = OAuthClientProvider(
        server_url, metadata, storage, agent.redirect_handler, agent.callback_handler
    )
    http = httpx2.AsyncClient(auth=provider, timeout=60)
    return anyio.run(call_tool, server_url, http), storage, agent


def direct_call(run: DevstackRun, server: str, token: str) -> Any:
    """``github_whoami`` on the demo server itself (no gateway) with ``token`` as bearer."""
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60)
    return anyio.run(call_tool, f"{url(run, server)}/mcp", http)


def whoami(result: Any) -> dict[str, Any]:
    assert not result.is_error, result
    text = "".join(getattr(block, "text", "") for block in result.content)
    answer: dict[str, Any] = json.loads(text)
    return answer


def error_text(result: Any) -> str:
    assert result.is_error, result
    return "".join(getattr(block, "text", "") for block in result.content)


def revoke_grant(run: DevstackRun, storage: MemoryStorage) -> None:
    """What a client's sign-out does: RFC 7009 revocation of its refresh token (the grant)."""
    assert storage.client is not None and storage.tokens is not None
    client = RegisteredClient(storage.client.client_id, None, "", REDIRECT_URI)
    with httpx.Client(timeout=10) as http:
        refresh_token = storage.tokens.refresh_token or ""
        assert revoke(http, url(run, "issuer"), client, refresh_token).status_code == 200


def gateway_status(run: DevstackRun, path: str, token: str) -> httpx.Response:
    return httpx.post(
        f"{url(run, 'gateway')}{path}/mcp",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
        timeout=10,
    )


def admin_cli(run: DevstackRun, *args: str) -> subprocess.CompletedProcess[str]:
    """``authgate ARGS`` from the checkout of this stack with nothing exported, as
    getting-started.md shows: the CLI reads Redis, keys and the upstream token keys from
    ``.run/authgate.env``."""
    configured = ("REDIS_", "KEYS_DIR", "UPSTREAM_TOKEN_KEYS")
    env = {k: v for k, v in run.env.items() if not k.startswith(configured)}
    return subprocess.run(
        [sys.executable, "-m", "authgate_issuer.admin", *args],
        cwd=run.run_dir.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def standin_stats(run: DevstackRun) -> dict[str, Any]:
    stats: dict[str, Any] = httpx.get(f"{url(run, 'github')}/_standin/stats", timeout=10).json()
    return stats


def test_exchange_demo_calls_github_as_the_user_until_the_grant_is_revoked(
    devstack: DevstackRun,
) -> None:
    before = standin_stats(devstack)
    result, storage, agent = signed_in_call(devstack, "/github", "Mona")
    assert whoami(result) == {"login": "Mona", "id": StandinState().user_id("Mona")}
    assert agent.logins == 1 and storage.tokens is not None
    access_token = storage.tokens.access_token
    # GitHub's API saw only GitHub tokens: no call with any other token (a 401 there).
    during = standin_stats(devstack)
    assert during["bad_credentials"] == before["bad_credentials"]
    assert during["user_requests"] > before["user_requests"]
    # The client's token is no GitHub token: sent to GitHub as is (the injected server uses what
    # it receives, here without the gateway's injection) it is refused, and counted.
    refused = direct_call(devstack, "github_injected", access_token)
    assert "GitHub refused the upstream token (HTTP 401)" in error_text(refused)
    assert standin_stats(devstack)["bad_credentials"] == during["bad_credentials"] + 1

    revoke_grant(devstack, storage)
    after = gateway_status(devstack, "/github", access_token)
    assert after.status_code == 401
    assert 'error="invalid_token"' in after.headers["www-authenticate"]
    # Past the gateway too: the issuer refuses to exchange the revoked token.
    exchanged = direct_call(devstack, "github_tools", access_token)
    assert "token exchange refused: invalid_request" in error_text(exchanged)


def test_injected_demo_gets_the_users_github_token_from_the_verifier(
    devstack: DevstackRun,
) -> None:
    before = standin_stats(devstack)["bad_credentials"]
    result, storage, _ = signed_in_call(devstack, "/github-injected", "Hubot")
    assert whoami(result) == {"login": "Hubot", "id": StandinState().user_id("Hubot")}
    # What reached the server, and GitHub, was the user's GitHub token, not the client's.
    assert standin_stats(devstack)["bad_credentials"] == before
    assert storage.tokens is not None
    access_token = storage.tokens.access_token
    # A token for the injected service is not one the exchange demo accepts through the gateway
    # (its audience is the other service).
    assert gateway_status(devstack, "/github", access_token).status_code == 401

    # The operator's view: the grant keeps the user's GitHub token (its status, never the token,
    # readable with the run directory's upstream token key); revoking the user's grants ends it.
    listed = admin_cli(devstack, "grants", "list", "--user", "hubot", "--json")
    assert listed.returncode == 0, listed.stderr
    assert "gho_" not in listed.stdout, listed.stdout
    assert re.findall(r'"state": ?"([a-z_]+)"', listed.stdout) == ["active"], listed.stdout
    assert re.findall(r'"key_id": ?"([^"]+)"', listed.stdout) == ["dev1"], listed.stdout
    revoked = admin_cli(devstack, "grants", "revoke", "--user", "hubot")
    assert revoked.returncode == 0, revoked.stderr
    assert gateway_status(devstack, "/github-injected", access_token).status_code == 401


@pytest.mark.parametrize("proxy", ["nginx", "caddy"])
def test_both_demos_work_behind_nginx_and_caddy(
    tmp_path_factory: pytest.TempPathFactory, proxy: str
) -> None:
    run = DevstackRun.on_free_ports(tmp_path_factory.mktemp(proxy) / ".run", proxy=proxy)
    with run.started(timeout=180):
        before = standin_stats(run)["bad_credentials"]
        for path, login in (("/github", "octocat"), ("/github-injected", "monalisa")):
            result, _, _ = signed_in_call(run, path, login)
            assert whoami(result) == {"login": login, "id": StandinState().user_id(login)}
        assert standin_stats(run)["bad_credentials"] == before
