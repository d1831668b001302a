"""The ForwardAuth contract through real Traefik (forwardAuth), nginx (auth_request) and Caddy
(forward_auth) processes running the shipped configs, for the MCP host ``mcp-a.example.com``.

Real issuer, verifier, Redis and proxies on loopback sockets; tokens minted by the issuer's own
code path; the upstream records exactly what each proxy forwarded.
"""

from __future__ import annotations

import httpx

from testsupport.echo_upstream import EchoUpstream
from testsupport.gateway import Gateway
from testsupport.proxies import GITHUB, IDENTITY_HEADERS, MCP_A, MCP_A_HOST, PRM_PATH

SPOOFED = {name: "evil" for name in IDENTITY_HEADERS}
METADATA_URL = MCP_A + PRM_PATH


def call(gateway: Gateway, proxy: str, token: str | None = None, **headers: str) -> httpx.Response:
    return gateway.request(
        proxy, "POST", MCP_A_HOST, "/mcp?x=1", token=token, headers=headers, content=b"{}"
    )


def challenge_of(response: httpx.Response) -> str:
    values = response.headers.get_list("www-authenticate")
    assert len(values) == 1, values
    return values[0]


def test_no_token_gets_401_and_the_verifiers_challenge(
    gateway: Gateway, proxy: str, echo_upstream: EchoUpstream
) -> None:
    before = len(echo_upstream.received)
    response = call(gateway, proxy)
    assert response.status_code == 401
    metadata = f'resource_metadata="{METADATA_URL}"'
    assert challenge_of(response).startswith("Bearer ")
    assert metadata in challenge_of(response)
    assert len(echo_upstream.received) == before


def test_protected_resource_metadata_needs_no_token(gateway: Gateway, proxy: str) -> None:
    response = gateway.get(proxy, MCP_A_HOST, PRM_PATH)
    assert response.status_code == 200
    body = response.json()
    assert body["resource"] == MCP_A
    assert body["authorization_servers"] == [gateway.stack.issuer_url]


def test_valid_token_reaches_upstream_with_the_verifiers_identity_only(
    gateway: Gateway, proxy: str, echo_upstream: EchoUpstream
) -> None:
    minted = gateway.mint(MCP_A)
    response = call(gateway, proxy, minted.token, **SPOOFED)
    assert response.status_code == 200, response.text
    seen = echo_upstream.last()
    assert seen.method == "POST" and seen.path == "/mcp?x=1" and seen.body == b"{}"
    assert seen.header("X-User-Id") == ["github|octocat"]
    assert seen.header("X-User-Name") == ["octocat"]
    assert seen.header("X-Client-Id") == ["test-client"]
    assert seen.header("X-Scopes") == ["mcp:*"]
    # The verifier runs with FORWARD_AUTH_TOKEN_HEADER=false: neither the client's copy nor a
    # proxy placeholder may take the place of the header it did not send.
    assert seen.header("X-Auth-Token") == []
    assert seen.header("Authorization") == [f"Bearer {minted.token}"]
    for name, value in seen.headers:
        assert "{" not in value, f"placeholder reached the upstream in {name}: {value}"
        assert value != "evil", f"client-sent {name} reached the upstream"


def test_token_for_another_mcp_host_is_refused(
    gateway: Gateway, proxy: str, echo_upstream: EchoUpstream
) -> None:
    before = len(echo_upstream.received)
    other_service = gateway.mint(GITHUB)
    elsewhere = gateway.mint("https://mcp-b.example.com")
    for minted in (other_service, elsewhere):
        response = call(gateway, proxy, minted.token)
        assert response.status_code == 401
        assert 'error="invalid_token"' in challenge_of(response)
    assert len(echo_upstream.received) == before


def test_revoked_token_is_refused_on_the_next_request(gateway: Gateway, proxy: str) -> None:
    minted = gateway.mint(MCP_A)
    assert call(gateway, proxy, minted.token).status_code == 200
    gateway.revoke(minted.jti)
    response = call(gateway, proxy, minted.token)
    assert response.status_code == 401
    assert 'error="invalid_token"' in challenge_of(response)


def test_insufficient_scope_reaches_the_client_with_its_challenge(
    gateway: Gateway, proxy: str, echo_upstream: EchoUpstream
) -> None:
    before = len(echo_upstream.received)
    minted = gateway.mint(MCP_A, scope="mcp:read")
    response = call(gateway, proxy, minted.token)
    assert response.status_code == 403
    challenge = challenge_of(response)
    assert challenge.startswith("Bearer ")
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="mcp:*"' in challenge
    assert f'resource_metadata="{METADATA_URL}"' in challenge
    assert len(echo_upstream.received) == before
