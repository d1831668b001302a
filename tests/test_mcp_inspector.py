"""MCP Inspector (npm ``@modelcontextprotocol/inspector``, pinned: 1.0.3 and 2.12.0) in real
Chromium against the
gateway of ``make run``: Traefik running the shipped dynamic configuration in front of the
verifier and the demo MCP server, the issuer with the dev login (GitHub stand-in).

Given only the server URL, the Inspector's web client gets the gateway's 401, reads the protected
resource metadata and the issuer's metadata, registers itself (DCR), sends the browser through
the consent page and the stand-in's login, redeems the code, lists the tools and calls
``whoami``, which answers the name the user signed in with.

* **Direct** connection: the browser itself, on the Inspector's origin
  (``http://localhost:<port>``), fetches the metadata, ``/register``, ``/token`` and the gateway's
  ``/mcp``: every step needs CORS (issuer, verifier's challenge, the preflight passed through to
  the MCP server), so this is the CORS proof with a real browser client.
* **Via Proxy** (1.0.3's default): discovery, registration and the MCP calls go through
  the Inspector's own proxy server, but the OAuth callback page redeems the code from the browser
  (metadata and ``/token`` fetched from the Inspector's origin): CORS on the issuer and the
  protected resource metadata is needed in this mode too.

* **Inspector 2** (the current line): its own server makes every HTTP request, OAuth included
  (no CORS involved); the login is still the browser's. Registered by DCR, and with a Client ID
  Metadata Document (its client settings name the document's URL; the issuer fetches it from a
  local HTTPS host and the consent page names the verified host).

Screenshots of each step are saved under ``artifacts/`` (gitignored).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from playwright.sync_api import Browser, Locator, Page, Request
from playwright.sync_api import Error as PlaywrightError

from devstack.local_tls import LocalTls
from testsupport import chromium
from testsupport.devstack_run import DevstackRun
from testsupport.https_documents import DocumentServer
from testsupport.inspector import Inspector, InspectorV2

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
# Loopback only: Inspector 2's page asks for web fonts from the internet; no name resolves here.
RESOLVER_RULES = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"
TIMEOUT_MS = 45_000  # every wait is bounded; generous for a loaded 2-core machine


@pytest.fixture(scope="module")
def devstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevstackRun]:
    run = DevstackRun.on_free_ports(
        tmp_path_factory.mktemp("inspector-devstack") / ".run", "traefik"
    )
    with run.started():
        yield run


@pytest.fixture(scope="module")
def inspector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inspector]:
    running = Inspector(tmp_path_factory.mktemp("inspector")).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium.launched(extra_args=[RESOLVER_RULES]) as launched_browser:
        yield launched_browser


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


def url(run: DevstackRun, name: str) -> str:
    return f"http://127.0.0.1:{run.ports[name]}"


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"inspector-{name.lower().replace(' ', '-')}.png"))


def connect_log_in_and_call_whoami(
    page: Page, run: DevstackRun, inspector: Inspector, connection: str, login: str
) -> tuple[dict[str, str], list[Request]]:
    """Everything a user does in the Inspector; the authorize request's query and every
    request the browser sent."""
    sent: list[Request] = []
    page.on("request", lambda request: sent.append(request))
    issuer, gateway = url(run, "issuer"), url(run, "gateway")
    page.goto(inspector.page_url(f"{gateway}/mcp"))
    if connection != "Via Proxy":
        page.locator("#connection-type-select").click()
        page.get_by_role("option", name=connection).click()
    page.get_by_role("button", name="Connect").click()

    page.wait_for_url(f"{issuer}/authorize?*")
    authorize = dict(parse_qsl(urlsplit(page.url).query))
    page.get_by_role("button", name="Approve").wait_for()
    assert page.title() == "Authorize access"
    shot(page, f"{connection}-consent")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url(f"{url(run, 'github')}/login/oauth/authorize?*")
    page.get_by_label("Login").fill(login)
    page.get_by_role("button", name="Sign in").click()

    # Back on the Inspector: it redeems the code and connects by itself. On a loaded machine
    # Inspector 1's own reconnect after the redirect sometimes gives up (it then shows
    # Disconnected); a user clicks Connect again, which must work with the tokens it now holds.
    page.wait_for_url(f"{inspector.origin}/")
    try:
        page.get_by_text("Connected", exact=True).wait_for(timeout=20_000)
    except PlaywrightError:
        page.get_by_role("button", name="Connect").click()
    connected(page)
    page.get_by_role("tab", name="Tools").click()
    page.get_by_role("button", name="List Tools").click()
    page.get_by_text("whoami", exact=True).first.click()
    click_until_shown(page, "Run Tool", page.get_by_text("Tool Result: Success"))
    result = page.locator("pre", has_text=login)
    assert result.count() >= 1, page.inner_text("body")
    result.last.scroll_into_view_if_needed()
    shot(page, f"{connection}-whoami")
    return authorize, sent


def connected(page: Page) -> None:
    try:
        page.get_by_text("Connected", exact=True).wait_for()
    except PlaywrightError as exc:
        shot(page, "not-connected")
        raise AssertionError(page.inner_text("body")) from exc


def requested(sent: list[Request], method: str, prefix: str) -> bool:
    return any(r.method == method and r.url.startswith(prefix) for r in sent)


def test_inspector_direct_connection_needs_and_gets_cors(
    page: Page, devstack: DevstackRun, inspector: Inspector
) -> None:
    authorize, sent = connect_log_in_and_call_whoami(
        page, devstack, inspector, "Direct", "monalisa"
    )
    issuer, gateway = url(devstack, "issuer"), url(devstack, "gateway")
    assert authorize["resource"] == gateway
    assert authorize["redirect_uri"] == f"{inspector.origin}/oauth/callback"
    assert authorize["code_challenge_method"] == "S256"
    # The browser, from the Inspector's origin, read every one of these itself.
    for method, prefix in [
        ("POST", f"{gateway}/mcp"),
        ("GET", f"{gateway}/.well-known/oauth-protected-resource"),
        ("GET", f"{issuer}/.well-known/oauth-authorization-server"),
        ("POST", f"{issuer}/register"),
        ("POST", f"{issuer}/token"),
    ]:
        assert requested(sent, method, prefix), (method, prefix, [r.url for r in sent])
    assert not any(r.url.startswith(inspector.proxy_url) for r in sent if r.method == "POST")


def test_inspector_via_its_proxy(page: Page, devstack: DevstackRun, inspector: Inspector) -> None:
    authorize, sent = connect_log_in_and_call_whoami(
        page, devstack, inspector, "Via Proxy", "hubot"
    )
    assert authorize["resource"] == url(devstack, "gateway")
    assert authorize["redirect_uri"] == f"{inspector.origin}/oauth/callback"
    # Discovery and registration went through the proxy's /fetch, the MCP calls through its
    # /mcp; the code is still redeemed by the browser itself (the callback page's own fetch).
    assert requested(sent, "POST", f"{inspector.proxy_url}/fetch")
    assert requested(sent, "POST", f"{inspector.proxy_url}/mcp?")
    assert not requested(sent, "POST", f"{url(devstack, 'gateway')}/mcp")
    assert not requested(sent, "POST", f"{url(devstack, 'issuer')}/register")
    assert requested(sent, "POST", f"{url(devstack, 'issuer')}/token")


@pytest.fixture(scope="module")
def documents(
    devstack: DevstackRun, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DocumentServer]:
    """An HTTPS host for the Inspector's client metadata document, with the certificate
    ``make run`` made for its own example document (its issuer trusts that CA)."""
    tls = devstack.run_dir / "client-document-tls"
    server = DocumentServer(tmp_path_factory.mktemp("inspector-documents"))
    server.tls = LocalTls(tls / "ca.pem", tls / "server.pem", tls / "server-key.pem")
    yield server.start()
    server.stop()


@pytest.fixture
def inspector_v2(devstack: DevstackRun, tmp_path: Path) -> Iterator[InspectorV2]:
    running = InspectorV2(tmp_path, f"{url(devstack, 'gateway')}/mcp").start()
    yield running
    running.stop()


def click_until_shown(page: Page, button: str, shown: Locator) -> None:
    """Click ``button`` until ``shown`` appears. On a loaded machine the Inspector's run button
    can be clicked before the tool's form is wired, and that click does nothing; whoami only
    reads, so clicking again is harmless. The result must still come (bounded)."""
    for _ in range(4):
        page.get_by_role("button", name=button).click()
        try:
            shown.wait_for(timeout=15_000)
            return
        except PlaywrightError:
            continue
    shown.wait_for(timeout=1_000)


def v2_log_in_and_call_whoami(
    page: Page, run: DevstackRun, inspector: InspectorV2, login: str, cimd: str | None = None
) -> tuple[dict[str, str], list[Request], str]:
    """Everything a user does in Inspector 2 (with ``cimd``: its client settings name that
    metadata document URL); the authorize query, the browser's requests, the consent page."""
    sent: list[Request] = []
    page.on("request", lambda request: sent.append(request))
    settings = "/api/storage/client"  # the web client keeps its settings on its server
    with page.expect_response(lambda r: r.request.method == "GET" and settings in r.url):
        page.goto(inspector.page_url)
    if cimd is not None:
        page.get_by_role("button", name="Client settings").click()
        section = page.get_by_role("button", name="OAuth Client ID Metadata Document")
        use_cimd = page.get_by_label("Use Client ID Metadata Document")
        # The dialog sets its sections and its form from the stored settings once it has
        # opened, undoing an earlier click: open the section and tick the box until both stay.
        for _ in range(50):
            try:
                if section.get_attribute("aria-expanded") != "true":
                    section.click()
                elif not use_cimd.is_checked():
                    use_cimd.click(force=True, timeout=1000)  # Mantine draws over the input
                else:
                    break
            except PlaywrightError:
                pass  # the section closed under the click: look again
            page.wait_for_timeout(200)
        with page.expect_response(lambda r: r.request.method != "GET" and settings in r.url):
            page.get_by_label("Client ID metadata document URL").fill(cimd)
        assert use_cimd.is_checked()
        page.get_by_role("button", name="Close").click()
    server = f'Connect or disconnect "127.0.0.1:{run.ports["gateway"]}"'
    page.get_by_role("switch", name=server).check(force=True)  # the switch's track covers it
    page.wait_for_url(f"{url(run, 'issuer')}/authorize?*")
    authorize = dict(parse_qsl(urlsplit(page.url).query))
    page.get_by_role("button", name="Approve").wait_for()
    consent = page.inner_text("body")
    shot(page, f"v2-{'cimd-' if cimd else ''}consent")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url(f"{url(run, 'github')}/login/oauth/authorize?*")
    page.get_by_label("Login").fill(login)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{inspector.origin}/**")
    connected(page)
    page.get_by_text("Tools", exact=True).first.click()
    page.get_by_role("button", name="whoami", exact=True).click()
    click_until_shown(page, "Execute Tool", page.get_by_text(f'"result": "{login}"'))
    shot(page, f"v2-{'cimd-' if cimd else ''}whoami")
    return authorize, sent, consent


def test_inspector_v2_registers_and_its_server_makes_every_request(
    page: Page, devstack: DevstackRun, inspector_v2: InspectorV2
) -> None:
    issuer, gateway = url(devstack, "issuer"), url(devstack, "gateway")
    authorize, sent, _ = v2_log_in_and_call_whoami(page, devstack, inspector_v2, "octocat")
    assert authorize["resource"] == gateway
    assert authorize["redirect_uri"] == f"{inspector_v2.origin}/oauth/callback"
    assert not authorize["client_id"].startswith("https://")  # registered (DCR)
    # Only navigations left the Inspector's origin for our servers: its server fetched the
    # metadata, registered, redeemed the code and made the MCP calls.
    local = [r for r in sent if urlsplit(r.url).hostname in ("127.0.0.1", "localhost")]
    elsewhere = [r for r in local if not r.url.startswith(inspector_v2.origin)]
    assert all(r.is_navigation_request() for r in elsewhere), elsewhere
    assert requested(elsewhere, "GET", f"{issuer}/authorize?")
    assert not requested(sent, "POST", f"{issuer}/token")


def test_inspector_v2_with_a_client_id_metadata_document(
    page: Page, devstack: DevstackRun, inspector_v2: InspectorV2, documents: DocumentServer
) -> None:
    path = "/inspector/client.json"
    client_id = documents.url(path)
    document = {
        "client_id": client_id,
        "client_name": "MCP Inspector (CIMD)",
        "redirect_uris": [f"{inspector_v2.origin}/oauth/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }
    documents.serve(path, document)
    authorize, _, consent = v2_log_in_and_call_whoami(
        page, devstack, inspector_v2, "monalisa", cimd=client_id
    )
    assert authorize["client_id"] == client_id
    assert documents.hits[path] >= 1
    assert "Verified identity: localhost." in consent, consent
