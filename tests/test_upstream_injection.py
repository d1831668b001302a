"""Upstream-token injection end to end: redis-server, the GitHub stand-in, the real issuer (its
vault and RFC 8693 token exchange), the real verifier with a policy file injecting for
``tools.example.com/github-mcp``, and the shipped Traefik, nginx and Caddy configs in front of
recording upstreams.

Users sign in through the issuer and the stand-in (whose GitHub token the grant keeps, with
UPSTREAM_TOKEN_KEYS); the verifier is an exchanger client made with the admin CLI. The injecting
service's upstream must receive ``Authorization: Bearer <the user's GitHub token>``, a token the
stand-in accepts for that user, and the client's access token in no header at all; every other
service's upstream gets the client's ``Authorization`` unchanged.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from testsupport.admin_cli import admin_env, run_process
from testsupport.echo_upstream import EchoUpstream, Received
from testsupport.flows import RegisteredClient, login, register, revoke
from testsupport.gateway import Gateway
from testsupport.proxies import GITHUB_MCP, PROXIES, RESOURCES, TOOLS_HOST, installed, start_proxy
from testsupport.stack import StackOptions, start_stack, start_verifier, verifier_env

KEYS = "k1:" + base64.b64encode(os.urandom(32)).decode()
SERVICES = ("mcp_a", "github", "jira", "github_mcp")
ALLOWED = ",".join((*RESOURCES, GITHUB_MCP))
GITHUB = RESOURCES[1]
POLICY = f"""
version: 1
services:
  - resource: {GITHUB_MCP}
    inject_upstream_token: true
"""
OK_METRIC = re.compile(r'^authgate_verifier_upstream_exchanges_total\{outcome="ok"\} (\S+)$', re.M)


@dataclass
class Injecting:
    gateway: Gateway
    upstreams: dict[str, EchoUpstream]
    http: httpx.Client

    @property
    def issuer_url(self) -> str:
        return self.gateway.stack.issuer_url

    def sign_in(self, *resources: str) -> tuple[RegisteredClient, str]:
        """A client of octocat's, through the issuer and the stand-in: (client, access token)."""
        client = register(self.http, self.issuer_url)
        tokens = login(self.http, self.issuer_url, client, resources=resources or (GITHUB_MCP,))
        return client, str(tokens["access_token"])

    def call(self, proxy: str, path: str, token: str) -> httpx.Response:
        return self.gateway.get(proxy, TOOLS_HOST, path, token=token)

    def exchanges(self) -> float:
        verifier = self.gateway.stack.verifier
        assert verifier is not None
        found = OK_METRIC.search(httpx.get(f"{verifier.url}/metrics", timeout=10).text)
        return float(found.group(1)) if found else 0.0

    def github_login(self, token: str) -> str:
        """Who the stand-in says ``token`` belongs to (it answers 401 for a token it never
        issued)."""
        api = self.gateway.stack.standin.api_url
        answer = httpx.get(f"{api}/user", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text
        return str(answer.json()["login"])


def exchanger(stack_dir: Path, redis_url: str) -> tuple[str, str]:
    env = admin_env(redis_url, stack_dir / "keys")
    args = ("clients", "create-exchanger", "--name", "verifier", "--resource", GITHUB_MCP)
    done = run_process(env, *args, "--json")
    assert done.code == 0, done.err
    created: dict[str, Any] = done.json()
    return created["client_id"], created["client_secret"]


@pytest.fixture(scope="module")
def injecting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Injecting]:
    directory = tmp_path_factory.mktemp("injection")
    upstreams = {name: EchoUpstream().start() for name in SERVICES}
    issuer_env = {"ALLOWED_RESOURCES": ALLOWED, "UPSTREAM_TOKEN_KEYS": KEYS}
    stack = start_stack(directory / "stack", StackOptions(verifier=False, issuer_env=issuer_env))
    proxies = {}
    try:
        client_id, secret = exchanger(stack.directory, stack.redis_url)
        policy = directory / "policy.yaml"
        policy.write_text(POLICY)
        env = verifier_env(
            stack.redis_url,
            stack.issuer_url,
            ALLOWED_RESOURCES=ALLOWED,
            POLICY_FILE=str(policy),
            TOKEN_EXCHANGE_URL=f"{stack.issuer_url}/token",
            TOKEN_EXCHANGE_CLIENT_ID=client_id,
            TOKEN_EXCHANGE_CLIENT_SECRET=secret,
            # Everything the verifier can say: its log must still never hold a token.
            LOG_LEVEL="DEBUG",
            LOG_DECISIONS="all",
        )
        stack.verifier = start_verifier(stack.directory, env)
        ports = {name: u.port for name, u in upstreams.items()}
        issuer = stack.issuer_url.removeprefix("http://")
        for kind in PROXIES:
            assert installed(kind), f"{kind} must be installed"
            proxies[kind] = start_proxy(
                kind,
                directory / kind,
                verifier_ports=[stack.verifier.port],
                issuer=issuer,
                upstreams=ports,
            )
        with httpx.Client(timeout=30) as http:
            yield Injecting(Gateway(stack, proxies), upstreams, http)
    finally:
        for proxy in proxies.values():
            proxy.stop()
        stack.stop()
        for upstream in upstreams.values():
            upstream.stop()


def bearer_values(received: Received) -> list[str]:
    return received.header("Authorization")


@pytest.mark.parametrize("proxy", PROXIES)
def test_the_injecting_service_gets_the_users_github_token_never_the_clients(
    injecting: Injecting, proxy: str
) -> None:
    _, token = injecting.sign_in()
    upstream = injecting.upstreams["github_mcp"]
    before = len(upstream.received)
    answer = injecting.call(proxy, "/github-mcp/mcp", token)
    assert answer.status_code == 200, answer.text
    assert len(upstream.received) == before + 1
    received = upstream.last()
    [authorization] = bearer_values(received)
    scheme, _, github_token = authorization.partition(" ")
    assert scheme == "Bearer" and github_token != token
    assert injecting.github_login(github_token) == "octocat"
    assert received.header("X-User-Name") == ["octocat"]
    # The client's token is in no header (names and values, every spelling), nor the body.
    for name, value in received.headers:
        assert token not in name and token not in value, name
    assert received.header("X-Auth-Token") == []


@pytest.mark.parametrize("proxy", PROXIES)
def test_other_services_keep_the_clients_authorization(injecting: Injecting, proxy: str) -> None:
    _, token = injecting.sign_in(GITHUB_MCP, GITHUB)
    injected = injecting.call(proxy, "/github-mcp/x", token)
    assert injected.status_code == 200
    assert bearer_values(injecting.upstreams["github_mcp"].last()) != [f"Bearer {token}"]
    answer = injecting.call(proxy, "/github/x", token)
    assert answer.status_code == 200, answer.text
    assert bearer_values(injecting.upstreams["github"].last()) == [f"Bearer {token}"]


@pytest.mark.parametrize("proxy", PROXIES)
def test_a_token_for_another_service_is_refused_before_any_exchange(
    injecting: Injecting, proxy: str
) -> None:
    _, token = injecting.sign_in(GITHUB)
    upstream = injecting.upstreams["github_mcp"]
    before, exchanges = len(upstream.received), injecting.exchanges()
    answer = injecting.call(proxy, "/github-mcp/mcp", token)
    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["www-authenticate"]
    assert len(upstream.received) == before and injecting.exchanges() == exchanges


def test_one_exchange_per_token_while_cached(injecting: Injecting) -> None:
    _, token = injecting.sign_in()
    before = injecting.exchanges()
    seen = set()
    for _ in range(3):
        for proxy in PROXIES:
            assert injecting.call(proxy, "/github-mcp/mcp", token).status_code == 200
            seen.update(bearer_values(injecting.upstreams["github_mcp"].last()))
    assert injecting.exchanges() - before == 1
    assert len(seen) == 1


@pytest.mark.parametrize("proxy", PROXIES)
def test_a_revoked_token_is_refused_at_once(injecting: Injecting, proxy: str) -> None:
    client, token = injecting.sign_in()
    upstream = injecting.upstreams["github_mcp"]
    assert injecting.call(proxy, "/github-mcp/mcp", token).status_code == 200  # now cached
    assert revoke(injecting.http, injecting.issuer_url, client, token).status_code == 200
    before = len(upstream.received)
    answer = injecting.call(proxy, "/github-mcp/mcp", token)
    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["www-authenticate"]
    assert len(upstream.received) == before


def test_issuer_down_is_503_never_200(injecting: Injecting) -> None:
    tokens = [injecting.sign_in()[1] for _ in PROXIES]
    upstream = injecting.upstreams["github_mcp"]
    issuer = injecting.gateway.stack.issuer
    issuer.stop()
    try:
        before = len(upstream.received)
        for proxy, token in zip(PROXIES, tokens, strict=True):
            answer = injecting.call(proxy, "/github-mcp/mcp", token)
            assert answer.status_code == 503, (proxy, answer.status_code, answer.text)
            assert answer.headers["retry-after"] == "2", proxy
        assert len(upstream.received) == before
    finally:
        issuer.start(expect_healthy=True)
    # Back: the same tokens pass (a failure is not cached).
    for proxy, token in zip(PROXIES, tokens, strict=True):
        assert injecting.call(proxy, "/github-mcp/mcp", token).status_code == 200


@pytest.mark.parametrize("proxy", PROXIES)
def test_a_grant_without_upstream_token_is_403_sign_in_again(
    injecting: Injecting, proxy: str
) -> None:
    # Issued by the issuer's own code path without a GitHub login: its grant keeps no token.
    token = injecting.gateway.mint(GITHUB_MCP).token
    upstream = injecting.upstreams["github_mcp"]
    before = len(upstream.received)
    answer = injecting.call(proxy, "/github-mcp/mcp", token)
    assert answer.status_code == 403
    assert "www-authenticate" not in answer.headers  # no step-up would help
    if proxy != "nginx":  # nginx's auth_request passes on the status only (docs: Deployment)
        body = answer.json()
        assert body["error"] == "access_denied" and "sign in again" in body["error_description"]
    assert len(upstream.received) == before


def test_the_verifier_log_never_holds_a_token(injecting: Injecting) -> None:
    client, token = injecting.sign_in()
    github_tokens = set()
    for proxy in PROXIES:
        assert injecting.call(proxy, "/github-mcp/mcp", token).status_code == 200
        github_tokens.add(bearer_values(injecting.upstreams["github_mcp"].last())[0])
    revoke(injecting.http, injecting.issuer_url, client, token)
    assert injecting.call(PROXIES[0], "/github-mcp/mcp", token).status_code == 401
    verifier = injecting.gateway.stack.verifier
    assert verifier is not None
    log = verifier.logs()
    assert '"event":"decision"' in log  # LOG_DECISIONS=all wrote its lines
    [github_token] = {value.removeprefix("Bearer ") for value in github_tokens}
    for secret in (github_token, token):
        assert secret not in log
    for kind, running in injecting.gateway.proxies.items():
        assert github_token not in running.logs(), kind
