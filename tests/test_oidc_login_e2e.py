"""Signing in with OpenID Connect, end to end (testsupport/oidc_login): panva's certified
``oidc-provider`` on loopback, real Redis, issuer, verifier and Traefik with the shipped config in
front of an MCP server that records what it receives.

A user of an allowed group signs in through the provider and reaches the MCP server with
X-User-Name from OIDC_USERNAME_CLAIM, X-User-Id ``oidc|<sub>`` and the groups a rule names; the
policy file decides per service; one outside the groups gets ``access_denied``; refresh works;
an ID token carrying another sign-in's nonce, and a provider that is down (at Approve, or
before the callback), come back to the client as error redirects. The issuer runs with
LOGIN_PROVIDERS=oidc and no GitHub variable at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import orjson
import pytest
import redis

from authgate_issuer.oauth.credentials import hash_secret
from authgate_shared import redis_keys
from testsupport.browser_flow import new_pkce
from testsupport.flows import refresh, register
from testsupport.issuer import start_issuer
from testsupport.oidc_login import (
    USERS,
    World,
    approve,
    call_tool,
    oidc_env,
    running_world,
    sign_in,
    tokens_for,
)
from testsupport.oidc_provider import start_oidc_provider
from testsupport.ports import free_port
from testsupport.proxies import GITHUB
from testsupport.stack import seed_keys


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with running_world(tmp_path_factory.mktemp("oidc-e2e")) as running:
        yield running


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
        browser, approved = approve(world.issuer.url, client, new_pkce().challenge, "approve")
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
    env = oidc_env(world.op, world.redis_url, tmp_path / "keys", port, LOGIN_PROVIDERS="oidc")
    env["OIDC_ISSUER"] = dead
    seed_keys(tmp_path / "keys")
    issuer = start_issuer(env, tmp_path, port=port)
    try:
        with httpx.Client(timeout=30) as http:
            client = register(http, issuer.url)
        _, approved = approve(issuer.url, client, new_pkce().challenge, "approve")
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
        env = oidc_env(op, world.redis_url, seed_keys(tmp_path / "keys"), port)
        issuer = start_issuer({**env, "LOGIN_PROVIDERS": "oidc"}, tmp_path, port=port)
        with httpx.Client(timeout=30) as http:
            client = register(http, issuer.url)
            browser, approved = approve(issuer.url, client, new_pkce().challenge, "approve")
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
