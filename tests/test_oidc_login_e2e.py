"""Signing in with OpenID Connect, end to end: panva's certified ``oidc-provider`` on loopback
(testsupport/oidc_provider), real Redis, issuers, the verifier and Traefik running the shipped
config in front of an MCP server that records what it receives.

A user of an allowed group signs in through the provider and reaches the MCP server with
X-User-Name from OIDC_USERNAME_CLAIM; one outside the groups gets ``access_denied``; refresh
works; an answer whose ID token carries another sign-in's nonce, and a provider that is down,
come back to the client as error redirects; with LOGIN_PROVIDERS=github,oidc the consent page
offers both (Chromium), and GitHub's deployment variables are not needed without ``github``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import orjson
import pytest
import redis
from playwright.sync_api import Browser as Chromium

from authgate_issuer.oauth.credentials import hash_secret
from authgate_shared import redis_keys
from testsupport import chromium
from testsupport.browser_flow import Browser, new_pkce
from testsupport.echo_upstream import EchoUpstream
from testsupport.flows import RegisteredClient, refresh, register, token_request
from testsupport.issuer import issuer_env, start_issuer
from testsupport.oidc_provider import OidcProvider, start_oidc_provider
from testsupport.ports import free_port
from testsupport.proxies import GITHUB, MCP_A, MCP_A_HOST, RESOURCES, ProxyProcess, start_proxy
from testsupport.redis_server import RedisServer
from testsupport.service import ServiceProcess
from testsupport.stack import seed_keys, start_verifier, verifier_env

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


def _oidc_env(
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


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    directory = tmp_path_factory.mktemp("oidc-e2e")
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
        env = _oidc_env(
            op, store.url, keys, ports[0], LOGIN_PROVIDERS="oidc", POLICY_FILE=str(policy)
        )
        for name in ("GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET", "ALLOWED_GITHUB_USERS"):
            del env[name]  # not needed when GitHub is not a provider
        issuer = start_issuer(env, directory / "issuer", port=ports[0])
        started.append(issuer)
        both_env = _oidc_env(op, store.url, keys, ports[1], LOGIN_PROVIDERS="github,oidc")
        both = start_issuer(both_env, directory / "both", port=ports[1])
        started.append(both)
        verifier = start_verifier(
            directory,
            verifier_env(
                store.url,
                issuer.url,
                ALLOWED_RESOURCES=",".join(RESOURCES),
                POLICY_FILE=str(policy),
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
        yield World(op, issuer, both, verifier, proxy, mcp, store.url)
    finally:
        for service in reversed(started):
            service.stop()


def _approve(
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
        browser, approved = _approve(issuer_url, client, pkce.challenge, action, resource)
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


def test_a_user_of_an_allowed_group_reaches_the_mcp_tool_with_the_configured_user_name(
    world: World,
) -> None:
    _, tokens = tokens_for(world, "alice")
    answer = call_tool(world, tokens["access_token"])
    assert answer.status_code == 200, answer.text
    seen = world.mcp.last()
    assert seen.header("X-User-Name") == ["alice@example.com"]  # OIDC_USERNAME_CLAIM=email
    assert seen.header("X-User-Id") == ["oidc|alice"]
    # Only the groups a rule names (ALLOWED_OIDC_GROUPS, the policy file), prefixed apart from
    # GitHub's organisations and teams.
    assert seen.header("X-User-Groups") == ["oidc:eng/backend,oidc:ops"]


def test_the_policy_file_refuses_an_oidc_user_a_service_for_other_groups(world: World) -> None:
    _, query, _ = sign_in(world, "alice", resource=GITHUB)
    assert query["error"] == "access_denied" and "code" not in query


def test_a_user_outside_the_allowed_groups_gets_access_denied(world: World) -> None:
    _, query, _ = sign_in(world, "bob")
    assert query["error"] == "access_denied"
    assert query["state"] == "client-state" and query["iss"] == world.issuer.url
    assert "code" not in query


def test_refresh_gives_a_token_that_reaches_the_tool_and_the_old_refresh_token_dies(
    world: World,
) -> None:
    client, tokens = tokens_for(world, "alice")
    with httpx.Client(timeout=30) as http:
        renewed = refresh(http, world.issuer.url, client, tokens["refresh_token"])
        assert renewed.status_code == 200, renewed.text
        answer = call_tool(world, renewed.json()["access_token"])
        assert answer.status_code == 200, answer.text
        assert world.mcp.last().header("X-User-Name") == ["alice@example.com"]
        # Rotation (OAuth 2.1 §4.3.1): the spent token is reuse, which revokes the grant.
        reused = refresh(http, world.issuer.url, client, tokens["refresh_token"])
        assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


def test_an_id_token_for_another_sign_in_nonce_is_refused(world: World) -> None:
    with httpx.Client(timeout=30) as http:
        client = register(http, world.issuer.url)
        browser, approved = _approve(world.issuer.url, client, new_pkce().challenge, "approve")
        location = approved.headers["location"]
        state = dict(parse_qsl(urlsplit(location).query))["state"]
        # The pending sign-in now expects another nonce than the one the provider will sign
        # into the ID token (OpenID Connect Core §3.1.3.7 step 11).
        store = redis.Redis.from_url(world.redis_url)
        key = redis_keys.state(hash_secret(state))
        record = orjson.loads(store.get(key) or b"{}")
        assert record["provider"] == "oidc" and record["nonce"]
        record["nonce"] = "another-sign-in-nonce"
        store.set(key, orjson.dumps(record), keepttl=True)
        store.close()
        back = browser.get(world.op.sign_in(http, location, "alice"))
    assert back.status_code == 302
    query = dict(parse_qsl(urlsplit(back.headers["location"]).query))
    assert query["error"] == "access_denied" and query["state"] == "client-state"
    assert "code" not in query


def test_a_provider_that_is_down_is_temporarily_unavailable_to_the_client(
    world: World, tmp_path: Path
) -> None:
    port = free_port()
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = _oidc_env(world.op, world.redis_url, tmp_path / "keys", port, LOGIN_PROVIDERS="oidc")
    env["OIDC_ISSUER"] = dead
    seed_keys(tmp_path / "keys")
    issuer = start_issuer(env, tmp_path, port=port)
    try:
        with httpx.Client(timeout=30) as http:
            client = register(http, issuer.url)
        _, approved = _approve(issuer.url, client, new_pkce().challenge, "approve")
    finally:
        issuer.stop()
    assert approved.status_code == 303, approved.text
    query = dict(parse_qsl(urlsplit(approved.headers["location"]).query))
    assert approved.headers["location"].startswith(client.redirect_uri + "?")
    assert query["error"] == "temporarily_unavailable"
    assert query["state"] == "client-state" and query["iss"] == issuer.url


def test_a_provider_that_goes_down_before_the_callback_is_temporarily_unavailable(
    world: World, tmp_path: Path
) -> None:
    port = free_port()
    op = start_oidc_provider(
        tmp_path / "op", users=USERS, redirect_uris=[f"http://127.0.0.1:{port}/callback"]
    )
    issuer = None
    try:
        env = _oidc_env(op, world.redis_url, seed_keys(tmp_path / "keys"), port)
        issuer = start_issuer({**env, "LOGIN_PROVIDERS": "oidc"}, tmp_path, port=port)
        with httpx.Client(timeout=30) as http:
            client = register(http, issuer.url)
            browser, approved = _approve(issuer.url, client, new_pkce().challenge, "approve")
            callback = op.sign_in(http, approved.headers["location"], "alice")
        op.stop()  # the code cannot be exchanged any more
        back = browser.get(callback)
    finally:
        op.stop()
        if issuer is not None:
            issuer.stop()
    assert back.status_code == 302, back.text
    assert back.headers["location"].startswith(client.redirect_uri + "?")
    query = dict(parse_qsl(urlsplit(back.headers["location"]).query))
    assert query["error"] == "temporarily_unavailable"
    assert query["state"] == "client-state" and "code" not in query


def test_with_two_providers_each_approve_button_leads_to_its_provider(world: World) -> None:
    _, query, _ = sign_in(world, "alice", issuer_url=world.both.url, action="approve:oidc")
    assert len(query["code"]) >= 22 and query["iss"] == world.both.url
    with httpx.Client(timeout=30) as http:
        client = register(http, world.both.url)
    _, github = _approve(world.both.url, client, new_pkce().challenge, "approve:github")
    assert github.status_code == 303
    assert github.headers["location"].startswith("http://127.0.0.1:9/login/oauth/authorize?")
    # A provider that is not enabled is no choice.
    _, other = _approve(world.issuer.url, client, new_pkce().challenge, "approve:github")
    assert other.status_code in (400, 403) and "location" not in other.headers


@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[Chromium]:
    with chromium.launched() as launched:
        yield launched


def test_the_consent_page_offers_each_provider_and_signs_in_with_the_chosen_one(
    world: World, chromium_browser: Chromium
) -> None:
    app = EchoUpstream().start()
    context = chromium_browser.new_context()
    try:
        redirect_uri = f"{app.url}/callback"
        with httpx.Client(timeout=30) as http:
            client = register(http, world.both.url, public=True, redirect_uri=redirect_uri)
        params = {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": redirect_uri,
            "code_challenge": new_pkce().challenge,
            "code_challenge_method": "S256",
            "state": "browser-state",
            "resource": MCP_A,
        }
        page = context.new_page()
        page.goto(f"{world.both.url}/authorize?{urlencode(params)}")
        github = page.get_by_role("button", name="Approve and sign in with GitHub")
        oidc = page.get_by_role(
            "button", name="Approve and sign in with single sign-on (127.0.0.1)"
        )
        assert github.count() == 1 and oidc.count() == 1
        assert page.get_by_role("button", name="Deny").count() == 1
        oidc.click()
        page.wait_for_url(f"{world.op.issuer}/**")
        for _ in range(4):  # the provider's login page, then its consent page
            if page.url.startswith(redirect_uri):
                break
            login = page.locator('input[name="login"]')
            if login.count():
                login.fill("alice")
                page.locator('input[name="password"]').fill("any")
            page.locator('button[type="submit"]').first.click()
            page.wait_for_load_state()
        page.wait_for_url(f"{redirect_uri}?*")
        query = dict(parse_qsl(urlsplit(page.url).query))
        assert len(query["code"]) >= 22
        assert query["state"] == "browser-state" and query["iss"] == world.both.url
    finally:
        context.close()
        app.stop()


def test_the_account_page_says_plainly_it_needs_github(world: World) -> None:
    answer = httpx.get(f"{world.issuer.url}/account", timeout=30, follow_redirects=False)
    assert answer.status_code == 404
    assert "Connected apps are not available here" in answer.text
    assert "location" not in answer.headers
    # With GitHub among the providers it still signs in with GitHub.
    github = httpx.get(f"{world.both.url}/account", timeout=30, follow_redirects=False)
    assert github.status_code == 302
    assert github.headers["location"].startswith("http://127.0.0.1:9/login/oauth/authorize?")


@pytest.mark.parametrize(("which", "skips"), [("issuer", True), ("both", False)])
def test_a_remembered_approval_skips_the_page_only_with_one_provider(
    world: World, which: str, skips: bool
) -> None:
    issuer = world.issuer if which == "issuer" else world.both
    action = "approve" if which == "issuer" else "approve:oidc"
    with httpx.Client(timeout=30) as http:
        client = register(http, issuer.url)
    browser = Browser(issuer.url)
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "code_challenge": new_pkce().challenge,
        "code_challenge_method": "S256",
        "state": "client-state",
    }
    url = browser.authorize_url(params, [MCP_A])
    approved = browser.consent(browser.get(url), action=action, remember=True)
    assert approved.headers["location"].startswith(world.op.issuer + "/")
    again = browser.get(url)
    if skips:  # straight to the provider, under a fresh state
        assert again.status_code == 302
        assert again.headers["location"].startswith(world.op.issuer + "/")
    else:  # the user chooses the provider again
        assert again.status_code == 200 and 'value="approve:oidc"' in again.text
