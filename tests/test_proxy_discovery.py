"""Discovery on MCP hosts, CORS preflights and readable challenges through the shipped proxy
configs (``deploy/``): real Traefik, nginx and Caddy in front of the real issuer and verifier
(the example gateway of ``testsupport.routing_gateway``)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from testsupport.gateway import Gateway
from testsupport.proxies import GITHUB, MCP_A, MCP_A_HOST, PROXIES, TOOLS_HOST
from testsupport.routing_gateway import (
    IDENTITY,
    Upstreams,
    example_gateway,
    recording_upstreams,
    wsgi_environ,
)


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    with recording_upstreams() as started:
        yield started


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, upstreams: Upstreams) -> Iterator[Gateway]:
    with example_gateway(tmp_path_factory.mktemp("discovery"), upstreams) as gateway:
        yield gateway


AS_METADATA = "/.well-known/oauth-authorization-server"
ORIGIN = "http://localhost:6274"
PREFLIGHT = {
    "Origin": ORIGIN,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type,mcp-protocol-version",
}
SERVICE_PATHS = [("mcp_a", MCP_A_HOST, "/mcp"), ("github", TOOLS_HOST, "/github/mcp")]


@pytest.mark.parametrize("proxy", PROXIES)
@pytest.mark.parametrize("host", [MCP_A_HOST, TOOLS_HOST])
def test_mcp_hosts_serve_the_issuers_metadata(
    gw: Gateway, upstreams: Upstreams, proxy: str, host: str
) -> None:
    """MCP 2025-03-26 clients look for RFC 8414 metadata on the MCP server's origin: the proxy
    routes it to the issuer, so it is the issuer's document byte for byte."""
    own = httpx.get(gw.stack.issuer_url + AS_METADATA, timeout=10)
    assert own.status_code == 200
    before = upstreams.counts()
    answer = gw.get(proxy, host, AS_METADATA, headers={"Origin": ORIGIN})
    assert answer.status_code == 200, answer.text
    assert answer.content == own.content
    assert answer.headers["etag"] == own.headers["etag"]
    assert answer.headers["access-control-allow-origin"] == "*"
    # A path-suffixed probe (RFC 8414 §3.1 for an issuer with a path) is the issuer's 404,
    # readable cross-origin, never the MCP route's 401.
    suffixed = gw.get(proxy, host, AS_METADATA + "/mcp", headers={"Origin": ORIGIN})
    assert suffixed.status_code == 404 and suffixed.json()["error"]
    assert suffixed.headers["access-control-allow-origin"] == "*"
    preflight = gw.request(
        proxy,
        "OPTIONS",
        host,
        AS_METADATA,
        headers={**PREFLIGHT, "Access-Control-Request-Method": "GET"},
    )
    assert (
        preflight.status_code == 204 and "GET" in preflight.headers["access-control-allow-methods"]
    )
    assert upstreams.reached_since(before) == []


@pytest.mark.parametrize("proxy", PROXIES)
def test_openid_configuration_is_gone(gw: Gateway, proxy: str) -> None:
    for host in ("auth.example.com", MCP_A_HOST):
        answer = gw.get(proxy, host, "/.well-known/openid-configuration")
        assert answer.status_code in (401, 404) and "issuer" not in answer.text, host


@pytest.mark.parametrize("proxy", PROXIES)
@pytest.mark.parametrize(("service", "host", "path"), SERVICE_PATHS)
def test_a_preflight_reaches_the_upstream_without_identity(
    gw: Gateway, upstreams: Upstreams, proxy: str, service: str, host: str, path: str
) -> None:
    before = upstreams.counts()
    spoofed = {"X-User-Id": "spoofed", "X_User_Name": "spoofed"}
    answer = gw.request(proxy, "OPTIONS", host, path, headers={**PREFLIGHT, **spoofed})
    assert answer.status_code == 200, answer.text
    assert upstreams.reached_since(before) == [service]
    received = upstreams.by_name[service].last()
    assert (received.method, received.path) == ("OPTIONS", path)
    assert received.header("Origin") == [ORIGIN]
    environ = wsgi_environ(received)
    for name in (*IDENTITY, "X-Auth-Token"):
        assert "HTTP_" + name.upper().replace("-", "_") not in environ, (name, received.headers)
    assert not [v for _, v in received.headers if v == "spoofed" or v.startswith("{http.")]
    # The upstream's own CORS answer reaches the browser.
    assert answer.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("proxy", PROXIES)
@pytest.mark.parametrize(
    "headers",
    [
        {**PREFLIGHT, "X-Forwarded-Method": "OPTIONS"},  # a client's claim, not the proxy's
        {"Origin": ORIGIN},  # OPTIONS without Access-Control-Request-Method: no preflight
    ],
)
def test_nothing_else_passes_as_a_preflight(
    gw: Gateway, upstreams: Upstreams, proxy: str, headers: dict[str, str]
) -> None:
    method = "GET" if "X-Forwarded-Method" in headers else "OPTIONS"
    before = upstreams.counts()
    answer = gw.request(proxy, method, MCP_A_HOST, "/mcp", headers=headers)
    assert answer.status_code == 401 and upstreams.reached_since(before) == []


@pytest.mark.parametrize("proxy", PROXIES)
@pytest.mark.parametrize(("service", "host", "path"), SERVICE_PATHS)
def test_refusals_are_readable_cross_origin(
    gw: Gateway, upstreams: Upstreams, proxy: str, service: str, host: str, path: str
) -> None:
    resource = MCP_A if service == "mcp_a" else GITHUB
    narrow = gw.mint(resource, scope="mcp:read").token
    before = upstreams.counts()
    missing = gw.request(proxy, "POST", host, path, headers={"Origin": ORIGIN}, json={})
    step_up = gw.request(proxy, "POST", host, path, token=narrow, headers={"Origin": ORIGIN})
    assert (missing.status_code, step_up.status_code) == (401, 403)
    assert upstreams.reached_since(before) == []
    for answer in (missing, step_up):
        assert answer.headers.get_list("access-control-allow-origin") == ["*"]
        exposed = answer.headers["access-control-expose-headers"].lower().replace(" ", "")
        assert "www-authenticate" in exposed.split(",")
        assert "access-control-allow-credentials" not in answer.headers
        (challenge,) = answer.headers.get_list("www-authenticate")
        assert 'scope="mcp:*"' in challenge  # REQUIRED_SCOPES=*=mcp:* in this gateway
    assert 'error="insufficient_scope"' in step_up.headers["www-authenticate"]
