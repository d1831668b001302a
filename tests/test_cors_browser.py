"""CORS as a browser enforces it: a page on another loopback origin (``http://localhost:<port>``,
as MCP Inspector's ``http://localhost:6274``) calls the issuer and the gateway with ``fetch()`` in
Debian's Chromium (Playwright), through the real Traefik, nginx and Caddy running the shipped
configs. Chromium sends the preflights itself; a missing or wrong CORS header makes ``fetch()``
throw, which these tests report as ``{"error": ...}``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from testsupport import chromium
from testsupport.echo_upstream import EchoUpstream
from testsupport.gateway import Gateway, running_gateway
from testsupport.ports import free_port
from testsupport.proxies import DOMAIN, MCP_A, MCP_A_HOST, PROXIES

# The gateway's public names reach the proxies on loopback.
RESOLVER_RULES = f"--host-resolver-rules=MAP *.{DOMAIN} 127.0.0.1"
# fetch() from the page; any failure (a CORS refusal is a TypeError) comes back as "error".
FETCH = """async ([url, init]) => {
    try {
        const response = await fetch(url, init);
        const headers = {};
        response.headers.forEach((value, name) => { headers[name] = value; });
        return {status: response.status, headers, body: await response.text()};
    } catch (error) {
        return {error: String(error)};
    }
}"""
PROTOCOL = {"MCP-Protocol-Version": "2025-11-25"}
INITIALIZE = '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}'
MCP_POST = {
    "method": "POST",
    "headers": {
        **PROTOCOL,
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
    },
    "body": INITIALIZE,
}


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>browser client</title><p>client"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def client_origin() -> Iterator[str]:
    """The browser client's own origin: ``localhost``, so every call below is cross-origin."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Page)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://localhost:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def upstream() -> Iterator[EchoUpstream]:
    started = EchoUpstream().start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, upstream: EchoUpstream) -> Iterator[Gateway]:
    others = [EchoUpstream().start() for _ in range(2)]
    ports = {"mcp_a": upstream.port, "github": others[0].port, "jira": others[1].port}
    try:
        with running_gateway(tmp_path_factory.mktemp("cors-browser"), upstreams=ports) as gateway:
            assert set(gateway.proxies) == set(PROXIES), "every proxy must be installed"
            yield gateway
    finally:
        for other in others:
            other.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium.launched(extra_args=[RESOLVER_RULES]) as launched_browser:
        yield launched_browser


@pytest.fixture
def page(browser: Browser, client_origin: str) -> Iterator[Page]:
    context = browser.new_context()
    opened = context.new_page()
    opened.goto(client_origin + "/")
    assert opened.evaluate("location.origin") == client_origin
    yield opened
    context.close()


def fetch(page: Page, url: str, init: dict[str, Any] | None = None) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(FETCH, [url, init or {}])
    return result


def test_the_browser_enforces_cors(page: Page, gw: Gateway) -> None:
    """The control: the consent page is a navigation, so fetch() of it must fail."""
    answer = fetch(page, gw.stack.issuer_url + "/authorize?client_id=x")
    assert "error" in answer and "TypeError" in answer["error"], answer


def test_issuer_metadata_register_and_token(page: Page, gw: Gateway) -> None:
    issuer = gw.stack.issuer_url
    # MCP-Protocol-Version is not CORS-safelisted: Chromium sends a preflight first.
    metadata = fetch(
        page, issuer + "/.well-known/oauth-authorization-server", {"headers": PROTOCOL}
    )
    assert metadata.get("status") == 200, metadata
    assert f'"issuer":"{issuer}"' in metadata["body"]
    registration = fetch(
        page,
        issuer + "/register",
        {
            "method": "POST",
            "headers": {**PROTOCOL, "Content-Type": "application/json"},
            "body": '{"redirect_uris":["http://localhost:6274/oauth/callback"],'
            '"client_name":"browser","token_endpoint_auth_method":"none"}',
        },
    )
    assert registration.get("status") == 201, registration
    assert '"client_id"' in registration["body"]
    client_id = registration["body"].split('"client_id":"', 1)[1].split('"', 1)[0]
    # A refused code is a readable OAuth error, not an opaque network failure.
    token = fetch(
        page,
        issuer + "/token",
        {
            "method": "POST",
            "headers": {**PROTOCOL, "Content-Type": "application/x-www-form-urlencoded"},
            "body": f"grant_type=authorization_code&code=nope&client_id={client_id}"
            "&redirect_uri=http%3A%2F%2Flocalhost%3A6274%2Foauth%2Fcallback&code_verifier="
            + "v"
            * 43,
        },
    )
    assert token.get("status") == 400 and '"invalid_grant"' in token["body"], token
    jwks = fetch(page, issuer + "/jwks")
    assert jwks.get("status") == 200 and '"keys"' in jwks["body"]


@pytest.mark.parametrize("proxy", PROXIES)
def test_gateway_challenge_is_readable_and_preflight_reaches_the_server(
    page: Page, gw: Gateway, upstream: EchoUpstream, client_origin: str, proxy: str
) -> None:
    mcp = f"http://{MCP_A_HOST}:{gw.port(proxy)}/mcp"
    before = len(upstream.received)
    answer = fetch(page, mcp, MCP_POST)
    assert answer.get("status") == 401, answer
    challenge = answer["headers"].get("www-authenticate", "")
    assert challenge.startswith('Bearer resource_metadata="https://mcp-a.example.com/'), answer
    assert 'scope="mcp:*"' in challenge
    # Only the preflight reached the MCP server, from the page's origin, without identity.
    reached = upstream.received[before:]
    assert [r.method for r in reached] == ["OPTIONS"], reached
    assert reached[0].header("Origin") == [client_origin]
    assert not reached[0].header("X-User-Id") and not reached[0].header("X-User-Name")
    # The same call with a token: preflight, then the POST with the verifier's identity.
    # Minted off the thread: Playwright's sync API keeps an event loop running on this one.
    with ThreadPoolExecutor(1) as pool:
        token = pool.submit(gw.mint, MCP_A).result().token
    before = len(upstream.received)
    init = {**MCP_POST, "headers": {**MCP_POST["headers"], "Authorization": f"Bearer {token}"}}
    allowed = fetch(page, mcp, init)
    assert allowed.get("status") == 200, allowed
    reached = upstream.received[before:]
    assert [r.method for r in reached] == ["OPTIONS", "POST"], reached
    assert reached[1].header("X-User-Id") == ["github|octocat"]
    assert reached[1].body.decode() == INITIALIZE
