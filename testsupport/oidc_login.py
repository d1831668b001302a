"""An OpenID Connect deployment as real processes, for the login tests: panva's
``oidc-provider`` (testsupport/oidc_provider), Redis, an issuer with LOGIN_PROVIDERS=oidc and a
policy file (no GitHub variable set), one with github,oidc, the verifier, and Traefik running
the shipped config in front of an MCP server that records what it receives.

    with running_world(tmp_path) as world:
        client, tokens = tokens_for(world, "alice")
        call_tool(world, tokens["access_token"])      # through Traefik and the verifier
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from .browser_flow import Browser, new_pkce
from .echo_upstream import EchoUpstream
from .flows import RegisteredClient, register, token_request
from .issuer import issuer_env, start_issuer
from .oidc_provider import OidcProvider, start_oidc_provider
from .ports import free_port
from .proxies import GITHUB, MCP_A, MCP_A_HOST, RESOURCES, ProxyProcess, start_proxy
from .redis_server import RedisServer
from .service import ServiceProcess
from .stack import seed_keys, start_verifier, verifier_env

USERS = {
    "alice": {
        "email": "alice@example.com",
        "email_verified": True,
        "preferred_username": "alice",
        "groups": ["/eng/backend", "ops"],  # Keycloak's full path beside a plain name
    },
    "bob": {
        "email": "bob@example.com",
        "email_verified": True,
        "preferred_username": "bob",
        "groups": ["sales"],
    },
}


# The policy file names OIDC groups per service: "ops" reaches the token through it alone.
POLICY = f"""
services:
  - resource: {MCP_A}
    allow: {{groups: [eng/backend, ops]}}
  - resource: {GITHUB}
    allow: {{groups: [sales]}}
"""


@dataclass
class World:
    op: OidcProvider
    issuer: ServiceProcess
    """LOGIN_PROVIDERS=oidc, no GitHub variables at all."""
    both: ServiceProcess
    """LOGIN_PROVIDERS=github,oidc."""
    verifier: ServiceProcess
    proxy: ProxyProcess
    mcp: EchoUpstream
    redis_url: str


def oidc_env(
    op: OidcProvider, redis_url: str, keys: Path, port: int, **more: str
) -> dict[str, str]:
    env = issuer_env(
        redis_url,
        keys,
        ISSUER_URL=f"http://127.0.0.1:{port}",
        ALLOWED_RESOURCES=",".join(RESOURCES),
        OIDC_ISSUER=op.issuer,
        OIDC_CLIENT_ID=op.client_id,
        OIDC_CLIENT_SECRET=op.client_secret,
        OIDC_ALLOW_INSECURE="true",
        OIDC_USERNAME_CLAIM="email",
        ALLOWED_OIDC_GROUPS="eng/backend",
        **more,
    )
    return env


def start_gateway(
    directory: Path, *, store_url: str, issuer: ServiceProcess, policy: Path, started: list[Any]
) -> tuple[ServiceProcess, ProxyProcess, EchoUpstream]:
    """The verifier (with ``policy``), an MCP server that records what it receives, and Traefik
    running the shipped config in front of it; each appended to ``started`` once running."""
    verifier = start_verifier(
        directory,
        verifier_env(
            store_url, issuer.url, ALLOWED_RESOURCES=",".join(RESOURCES), POLICY_FILE=str(policy)
        ),
    )
    started.append(verifier)
    mcp = EchoUpstream().start()
    started.append(mcp)
    proxy = start_proxy(
        "traefik",
        directory / "traefik",
        verifier_ports=[verifier.port],
        issuer=issuer.url.removeprefix("http://"),
        upstreams={"mcp_a": mcp.port, "github": mcp.port, "jira": mcp.port},
    )
    started.append(proxy)
    return verifier, proxy, mcp


@contextlib.contextmanager
def running_world(directory: Path) -> Iterator[World]:
    """Everything started (and stopped on exit, or when a start fails)."""
    started: list[Any] = []
    try:
        store = RedisServer(directory / "redis").start()
        started.append(store)
        keys = seed_keys(directory / "keys")
        policy = directory / "policy.yaml"
        policy.write_text(POLICY)
        ports = [free_port(), free_port()]
        op = start_oidc_provider(
            directory / "op",
            users=USERS,
            redirect_uris=[f"http://127.0.0.1:{port}/callback" for port in ports],
        )
        started.append(op)
        env = oidc_env(
            op, store.url, keys, ports[0], LOGIN_PROVIDERS="oidc", POLICY_FILE=str(policy)
        )
        for name in ("GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET", "ALLOWED_GITHUB_USERS"):
            del env[name]  # not needed when GitHub is not a provider
        issuer = start_issuer(env, directory / "issuer", port=ports[0])
        started.append(issuer)
        both_env = oidc_env(op, store.url, keys, ports[1], LOGIN_PROVIDERS="github,oidc")
        both = start_issuer(both_env, directory / "both", port=ports[1])
        started.append(both)
        verifier, proxy, mcp = start_gateway(
            directory, store_url=store.url, issuer=issuer, policy=policy, started=started
        )
        yield World(op, issuer, both, verifier, proxy, mcp, store.url)
    finally:
        for service in reversed(started):
            service.stop()


def approve(
    issuer_url: str,
    client: RegisteredClient,
    pkce_challenge: str,
    action: str,
    resource: str = MCP_A,
) -> tuple[Browser, httpx.Response]:
    browser = Browser(issuer_url)
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "code_challenge": pkce_challenge,
        "code_challenge_method": "S256",
        "state": "client-state",
    }
    page = browser.get(browser.authorize_url(params, [resource]))
    return browser, browser.consent(page, action=action)


def sign_in(
    world: World,
    user: str,
    *,
    issuer_url: str | None = None,
    action: str = "approve",
    resource: str = MCP_A,
) -> tuple[RegisteredClient, dict[str, str], str]:
    """(client, the query the client's redirect URI gets, PKCE verifier) after consent and the
    provider's login as ``user``."""
    issuer_url = issuer_url or world.issuer.url
    with httpx.Client(timeout=30) as http:
        client = register(http, issuer_url)
        pkce = new_pkce()
        browser, approved = approve(issuer_url, client, pkce.challenge, action, resource)
        assert approved.status_code == 303, approved.text
        location = approved.headers["location"]
        assert location.startswith(world.op.issuer + "/"), location
        callback = world.op.sign_in(http, location, user)
        assert callback.startswith(f"{issuer_url}/callback?"), callback
        back = browser.get(callback)
    assert back.status_code == 302, back.text
    final = back.headers["location"]
    assert final.startswith(client.redirect_uri + "?"), final
    return client, dict(parse_qsl(urlsplit(final).query)), pkce.verifier


def tokens_for(world: World, user: str) -> tuple[RegisteredClient, dict[str, Any]]:
    client, query, verifier = sign_in(world, user)
    assert query["state"] == "client-state" and query["iss"] == world.issuer.url
    form = {
        "grant_type": "authorization_code",
        "code": query["code"],
        "redirect_uri": client.redirect_uri,
        "code_verifier": verifier,
    }
    with httpx.Client(timeout=30) as http:
        answer = token_request(http, world.issuer.url, client, form)
    assert answer.status_code == 200, answer.text
    return client, answer.json()


def call_tool(world: World, token: str) -> httpx.Response:
    body = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}'
    return httpx.post(
        f"{world.proxy.url}/mcp",
        headers={"Host": MCP_A_HOST, "Authorization": f"Bearer {token}"},
        content=body,
        timeout=30,
    )
