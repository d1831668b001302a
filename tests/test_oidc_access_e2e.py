"""The OpenID Connect access rules end to end, through panva's certified ``oidc-provider`` on
loopback, real Redis, the issuer, the verifier and Traefik with the shipped config: verified
e-mail domains admit (an unverified address or a look-alike domain never does), a policy file's
``oidc:<name>`` and ``allow.groups`` entries admit per service while a GitHub login of the same
name does not, a group named only in the policy reaches the token as ``oidc:<group>``, and tool
rules decide on it per tool."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from testsupport.browser_flow import Browser, new_pkce
from testsupport.echo_upstream import EchoUpstream
from testsupport.flows import register, token_request
from testsupport.issuer import issuer_env, start_issuer
from testsupport.oidc_login import start_gateway
from testsupport.oidc_provider import OidcProvider, start_oidc_provider
from testsupport.ports import free_port
from testsupport.proxies import MCP_A, MCP_A_HOST, RESOURCES, ProxyProcess
from testsupport.redis_server import RedisServer
from testsupport.service import ServiceProcess
from testsupport.stack import seed_keys

ENTRA = "5f3c9a7e-1b2d-4c8e-9f10-2a3b4c5d6e7f"


def user(name: str, email: str, verified: bool, groups: list[str]) -> dict[str, Any]:
    return {
        "preferred_username": name,
        "email": email,
        "email_verified": verified,
        "groups": groups,
    }


USERS = {
    "carol": user("carol", "carol@example.com", True, ["Platform Engineers", ENTRA]),
    "gina": user("gina", "gina@Example.COM", True, ["/deployers"]),
    "dave": user("dave", "dave@example.com", False, ["Platform Engineers"]),
    "erin": user("erin", "erin@evil-example.com", True, []),
    "sam": user("sam", "sam@sub.example.com", True, []),
    # An OIDC user whose name is an allowed GitHub login in the policy file.
    "alice": user("alice", "alice@example.com", True, []),
}
POLICY = f"""
services:
  - resource: {MCP_A}
    allow: {{users: [alice, "oidc:carol"], groups: [Deployers]}}
    tools:
      rules:
        - {{method: tools/call, name: deploy, groups: ["oidc:Platform Engineers"]}}
"""


@dataclass
class World:
    op: OidcProvider
    issuer: ServiceProcess
    proxy: ProxyProcess
    mcp: EchoUpstream


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    directory = tmp_path_factory.mktemp("oidc-access")
    policy = directory / "policy.yaml"
    policy.write_text(POLICY)
    started: list[Any] = []
    try:
        store = RedisServer(directory / "redis").start()
        started.append(store)
        keys = seed_keys(directory / "keys")
        port = free_port()
        op = start_oidc_provider(
            directory / "op", users=USERS, redirect_uris=[f"http://127.0.0.1:{port}/callback"]
        )
        started.append(op)
        env = issuer_env(
            store.url,
            keys,
            ISSUER_URL=f"http://127.0.0.1:{port}",
            ALLOWED_RESOURCES=",".join(RESOURCES),
            LOGIN_PROVIDERS="oidc",
            OIDC_ISSUER=op.issuer,
            OIDC_CLIENT_ID=op.client_id,
            OIDC_CLIENT_SECRET=op.client_secret,
            OIDC_ALLOW_INSECURE="true",
            ALLOWED_EMAIL_DOMAINS="example.com",
            POLICY_FILE=str(policy),
        )
        issuer = start_issuer(env, directory / "issuer", port=port)
        started.append(issuer)
        _, proxy, mcp = start_gateway(
            directory, store_url=store.url, issuer=issuer, policy=policy, started=started
        )
        yield World(op, issuer, proxy, mcp)
    finally:
        for service in reversed(started):
            service.stop()


def sign_in(world: World, name: str) -> dict[str, str]:
    """The query the client's redirect URI gets after consent and the provider's login; with a
    code, the token response's fields under ``token.``."""
    with httpx.Client(timeout=30) as http:
        client = register(http, world.issuer.url)
        pkce = new_pkce()
        browser = Browser(world.issuer.url)
        params = {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": client.redirect_uri,
            "code_challenge": pkce.challenge,
            "code_challenge_method": "S256",
            "state": "s",
        }
        approved = browser.consent(browser.get(browser.authorize_url(params, [MCP_A])))
        assert approved.status_code == 303, approved.text
        back = browser.get(world.op.sign_in(http, approved.headers["location"], name))
        assert back.status_code == 302, back.text
        query = dict(parse_qsl(urlsplit(back.headers["location"]).query))
        if "code" in query:
            form = {
                "grant_type": "authorization_code",
                "code": query["code"],
                "redirect_uri": client.redirect_uri,
                "code_verifier": pkce.verifier,
            }
            answer = token_request(http, world.issuer.url, client, form)
            assert answer.status_code == 200, answer.text
            query["token.access_token"] = answer.json()["access_token"]
    return query


def call(world: World, token: str, tool: str) -> int:
    body = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"%s"}}' % tool.encode()
    headers = {
        "Host": MCP_A_HOST,
        "Authorization": f"Bearer {token}",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/call",
        "Mcp-Name": tool,
    }
    answer = httpx.post(f"{world.proxy.url}/mcp", headers=headers, content=body, timeout=30)
    return answer.status_code


def test_a_policy_user_with_a_verified_domain_gets_the_policys_groups(world: World) -> None:
    query = sign_in(world, "carol")
    token = query["token.access_token"]
    assert call(world, token, "echo") == 200
    seen = world.mcp.last()
    assert seen.header("X-User-Id") == ["oidc|carol"] and seen.header("X-User-Name") == ["carol"]
    # Named only by a tool rule of the policy file; the Entra id no rule names stays out.
    assert seen.header("X-User-Groups") == ["oidc:Platform Engineers"]
    assert call(world, token, "deploy") == 200


def test_a_policy_group_admits_but_the_tool_rule_still_decides(world: World) -> None:
    token = sign_in(world, "gina")["token.access_token"]  # Keycloak's /deployers
    assert call(world, token, "echo") == 200
    assert world.mcp.last().header("X-User-Groups") == ["oidc:deployers"]
    assert call(world, token, "deploy") == 403


@pytest.mark.parametrize("name", ["dave", "erin", "sam"])
def test_unverified_or_other_domains_never_sign_in(world: World, name: str) -> None:
    query = sign_in(world, name)
    assert query["error"] == "access_denied" and "code" not in query


def test_an_oidc_user_named_like_an_allowed_github_login_may_not_use_the_service(
    world: World,
) -> None:
    query = sign_in(world, "alice")  # signs in (verified example.com) but the policy says no
    assert query["error"] == "access_denied" and "code" not in query
    assert "may not use this service" in query["error_description"]
