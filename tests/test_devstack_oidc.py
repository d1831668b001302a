"""``make run`` with ``--idp oidc`` (``DEVSTACK_IDP=oidc``) as a user runs it: a local OpenID
Provider (panva's ``oidc-provider``) replaces the GitHub stand-in, the banner names it and its
demo users, and a real MCP client (the official SDK), given only the gateway's URL, signs in
through the provider's own login and consent pages and reaches ``whoami`` as the provider's
user. The group rule decides: ``carol``, in no allowed group, is refused. The GitHub tools demos
(which need GitHub) are not started, and Ctrl-C stops the provider with everything else.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import anyio
import httpx
import httpx2
import jwt
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

from testsupport.browser_flow import Browser
from testsupport.devstack_run import ROOT, DevstackRun
from testsupport.ports import free_port

REDIRECT_URI = f"http://127.0.0.1:{free_port()}/callback"
_FORM_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')
_PROMPT = re.compile(r'name="prompt" value="([a-z]+)"')


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


@dataclass
class OidcDevstackRun(DevstackRun):
    """``python -m devstack`` (what ``make run`` runs) with DEVSTACK_IDP=oidc."""

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "DEVSTACK_IDP": "oidc"}


def op_sign_in(op_url: str, authorize_url: str, user: str) -> str:
    """What the user does on the provider's login and consent pages (as
    ``testsupport.oidc_provider.OidcProvider.sign_in``): the redirect back to the issuer."""
    with httpx.Client(timeout=30) as http:
        answer = http.get(authorize_url)
        for _ in range(12):
            if answer.is_redirect:
                location = urljoin(str(answer.url), answer.headers["location"])
                if not location.startswith(op_url + "/"):
                    return location
                answer = http.get(location)
                continue
            assert answer.status_code == 200, answer.text
            action, prompt = _FORM_ACTION.search(answer.text), _PROMPT.search(answer.text)
            assert action and prompt, answer.text
            form = {"prompt": prompt.group(1)}
            if prompt.group(1) == "login":
                form.update(login=user, password="any password")
            answer = http.post(urljoin(str(answer.url), action.group(1)), data=form)
    raise AssertionError("the provider's sign-in did not redirect back")


class UserAgent:
    """The user's browser: approve on Authgate's consent page, sign in as ``user`` at the
    provider, follow the redirect back through the issuer's callback."""

    def __init__(self, issuer_url: str, op_url: str, user: str) -> None:
        self.issuer_url, self.op_url, self.user = issuer_url, op_url, user
        self.params: dict[str, str] = {}

    def follow(self, authorize_url: str) -> None:
        browser = Browser(self.issuer_url)
        response = browser.consent(browser.get(authorize_url))
        assert response.status_code in (302, 303), response.text
        assert response.headers["location"].startswith(self.op_url + "/"), response.headers
        callback = op_sign_in(self.op_url, response.headers["location"], self.user)
        assert callback.startswith(self.issuer_url + "/callback?"), callback
        response = browser.get(callback)
        assert response.status_code in (302, 303), response.text
        location = response.headers["location"]
        assert location.startswith(REDIRECT_URI + "?"), location
        self.params = dict(parse_qsl(urlsplit(location).query))

    async def redirect_handler(self, authorize_url: str) -> None:
        await anyio.to_thread.run_sync(self.follow, authorize_url)

    async def callback_handler(self) -> AuthorizationCodeResult:
        p = self.params
        return AuthorizationCodeResult(code=p["code"], state=p.get("state"), iss=p.get("iss"))


async def call_whoami(server_url: str, http: httpx2.AsyncClient) -> Any:
    async with http, Client(streamable_http_client(server_url, http_client=http)) as client:
        return await client.call_tool("whoami", {})


def signed_in_whoami(run: DevstackRun, user: str) -> tuple[Any, MemoryStorage, UserAgent]:
    """A new MCP client given only the gateway's URL: login as ``user``, then ``whoami``."""
    issuer, op = (f"http://127.0.0.1:{run.ports[name]}" for name in ("issuer", "oidc"))
    storage, agent = MemoryStorage(), UserAgent(issuer, op, user)
    metadata = OAuthClientMetadata(
        client_name=f"Authgate devstack OIDC test ({user})",
        redirect_uris=[AnyUrl(REDIRECT_URI)],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="none",
    )
    server_url = f"http://127.0.0.1:{run.ports['gateway']}/mcp"
    provider = OAuthClientProvider(
        server_url, metadata, storage, agent.redirect_handler, agent.callback_handler
    )
    http = httpx2.AsyncClient(auth=provider, timeout=60)
    return anyio.run(call_whoami, server_url, http), storage, agent


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_make_run_idp_oidc_signs_in_through_a_local_openid_provider(tmp_path: Path) -> None:
    run = OidcDevstackRun.on_free_ports(tmp_path / ".run")
    ports = run.ports
    op = f"http://127.0.0.1:{ports['oidc']}"
    with run.started(timeout=180) as process:
        shown = [line for line in run.lines if line.startswith("devstack")]
        provider_line = f"OpenID Provider (dev login, any password): {op}"
        assert any(line.endswith(provider_line) for line in shown), shown
        users = "users: alice (mcp-users, eng), bob (mcp-users), carol (sales)"
        assert any(f"{users}; admitted: ALLOWED_OIDC_GROUPS=mcp-users" in line for line in shown)
        assert not any("GitHub" in line for line in shown), shown
        # The provider answers discovery as the issuer's OIDC_ISSUER; no stand-in, no demos.
        discovery = httpx.get(op + "/.well-known/openid-configuration", timeout=10).json()
        assert discovery["issuer"] == op
        for name in ("github", "github_tools", "github_injected"):
            assert not listening(ports[name]), name
        # Its development warnings go to its log file, not the terminal.
        assert not any(line.startswith("oidc ") for line in run.lines), run.lines
        assert "listening" in (run.run_dir / "logs" / "oidc.log").read_text()

        result, storage, _ = signed_in_whoami(run, "alice")
        assert not result.is_error, result
        assert "".join(getattr(block, "text", "") for block in result.content) == "alice"
        assert storage.tokens is not None
        claims = jwt.decode(storage.tokens.access_token, options={"verify_signature": False})
        assert claims["sub"] == "oidc|alice"
        # Only the groups the rules name, prefixed: "eng" is named by no rule.
        assert claims["groups"] == ["oidc:mcp-users"]

        agent = UserAgent(f"http://127.0.0.1:{ports['issuer']}", op, "carol")
        refused_client(run, agent)
        assert agent.params.get("error") == "access_denied", agent.params

        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
        assert process.returncode == 0, rest
    assert not listening(ports["oidc"])


def refused_client(run: DevstackRun, agent: UserAgent) -> None:
    """A new MCP client whose user the issuer refuses: the SDK gives up without a code."""
    metadata = OAuthClientMetadata(
        client_name="Authgate devstack OIDC test (refused)",
        redirect_uris=[AnyUrl(REDIRECT_URI)],
        grant_types=["authorization_code"],
        response_types=["code"],
        token_endpoint_auth_method="none",
    )
    server_url = f"http://127.0.0.1:{run.ports['gateway']}/mcp"
    provider = OAuthClientProvider(
        server_url, metadata, MemoryStorage(), agent.redirect_handler, agent.callback_handler
    )
    try:
        anyio.run(call_whoami, server_url, httpx2.AsyncClient(auth=provider, timeout=60))
    except Exception:  # the SDK's error for an authorization response without a code
        return
    raise AssertionError(f"{agent.user} reached whoami")


def test_make_run_idp_oidc_names_a_busy_provider_port(tmp_path: Path) -> None:
    run = OidcDevstackRun.on_free_ports(tmp_path / ".run")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", run.ports["oidc"]))
        taken.listen()
        done = subprocess.run(
            run.command, cwd=ROOT, env=run.env, capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 1
    assert f"port {run.ports['oidc']} (oidc) is in use" in done.stdout
    assert "DEVSTACK_OIDC_PORT" in done.stdout
    assert not (tmp_path / ".run").exists()


def test_make_run_refuses_an_unknown_idp(tmp_path: Path) -> None:
    run = DevstackRun.on_free_ports(tmp_path / ".run")
    env = {**run.env, "DEVSTACK_IDP": "saml"}
    done = subprocess.run(
        run.command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "DEVSTACK_IDP=saml: choose one of github, oidc" in done.stderr
    assert not (tmp_path / ".run").exists()
