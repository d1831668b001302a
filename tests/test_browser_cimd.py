"""A Client ID Metadata Document client's consent page and login in real Chromium: the page
names the verified host of the client id and warns for its loopback redirect; Approve and the
stand-in's login bring the client a code. The document is served over TLS by the local HTTPS
stand-in; the issuer trusts its test CA (SSL_CERT_FILE)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from playwright.sync_api import Page

from testsupport import chromium
from testsupport.browser_flow import new_pkce
from testsupport.echo_upstream import EchoUpstream
from testsupport.https_documents import DocumentServer
from testsupport.stack import RESOURCE_A, Stack, StackOptions, running_stack


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocumentServer]:
    server = DocumentServer(tmp_path_factory.mktemp("browser-docs")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, docs: DocumentServer) -> Iterator[Stack]:
    env = {"SSL_CERT_FILE": str(docs.ca_file), "CIMD_ALLOW_PRIVATE_ADDRESSES": "true"}
    options = StackOptions(verifier=False, issuer_env=env)
    with running_stack(tmp_path_factory.mktemp("browser-cimd"), options) as running:
        yield running


@pytest.fixture(scope="module")
def client_app() -> Iterator[EchoUpstream]:
    app = EchoUpstream().start()
    yield app
    app.stop()


@pytest.fixture
def page() -> Iterator[Page]:
    with chromium.launched() as browser:
        yield browser.new_context().new_page()


def test_consent_names_the_verified_host_and_the_flow_completes(
    page: Page, stack: Stack, docs: DocumentServer, client_app: EchoUpstream
) -> None:
    client_id = docs.serve(
        "/browser/client.json",
        {
            "client_id": docs.url("/browser/client.json"),
            "client_name": "Browser Doc Client",
            "redirect_uris": ["http://127.0.0.1/callback"],  # port-less: any port matches
        },
    )
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": f"{client_app.url}/callback",
        "code_challenge": new_pkce().challenge,
        "code_challenge_method": "S256",
        "state": "cimd-state",
        "resource": RESOURCE_A,
    }
    page.goto(f"{stack.issuer_url}/authorize?{urlencode(params)}")
    assert page.title() == "Authorize access"
    body = page.inner_text("body")
    assert "Browser Doc Client" in body
    assert "Verified identity: localhost." in body
    assert f"You will be sent back to 127.0.0.1 ({client_app.url}/callback)" in body
    warnings = page.locator(".warn").all_inner_texts()
    assert any("can present the same client id" in w for w in warnings)

    page.get_by_role("button", name="Approve").click()
    page.wait_for_url(f"{stack.standin.url}/login/oauth/authorize?*")
    page.get_by_label("Login").fill("octocat")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{client_app.url}/callback?*")
    query = dict(parse_qsl(urlsplit(page.url).query))
    assert len(query["code"]) >= 22 and query["state"] == "cimd-state"
    assert query["iss"] == stack.issuer_url
