"""Two login providers at once (LOGIN_PROVIDERS=github,oidc), end to end: the consent page
offers one approve button per provider (Chromium), each leading to its provider; a remembered
approval skips the page only when there is no choice to make; the Connected apps page says
plainly that it needs GitHub when GitHub is not a provider. Processes: testsupport/oidc_login.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser as Chromium

from testsupport import chromium
from testsupport.browser_flow import Browser, new_pkce
from testsupport.echo_upstream import EchoUpstream
from testsupport.flows import register
from testsupport.oidc_login import World, approve, running_world, sign_in
from testsupport.proxies import MCP_A


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with running_world(tmp_path_factory.mktemp("oidc-choice")) as running:
        yield running


def test_with_two_providers_each_approve_button_leads_to_its_provider(world: World) -> None:
    _, query, _ = sign_in(world, "alice", issuer_url=world.both.url, action="approve:oidc")
    assert len(query["code"]) >= 22 and query["iss"] == world.both.url
    with httpx.Client(timeout=30) as http:
        client = register(http, world.both.url)
    _, github = approve(world.both.url, client, new_pkce().challenge, "approve:github")
    assert github.status_code == 303
    assert github.headers["location"].startswith("http://127.0.0.1:9/login/oauth/authorize?")
    # A provider that is not enabled is no choice.
    _, other = approve(world.issuer.url, client, new_pkce().challenge, "approve:github")
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
