"""The "Connected apps" page (``/account``) in a real browser: Debian's Chromium under Playwright,
against a real issuer, verifier, GitHub stand-in and Redis.

A user signs in through the stand-in, sees their grants (and only theirs), revokes one or all,
and the real verifier refuses the revoked tokens at once; forged, expired and cross-browser
sessions, missing or wrong CSRF tokens and other users' grant ids change nothing. Screenshots
go to artifacts/ (``account-page.png``, from the remembered-consents test, is the one in the
docs).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import orjson
import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from testsupport import chromium
from testsupport.browser_flow import new_pkce
from testsupport.echo_upstream import EchoUpstream
from testsupport.flows import RegisteredClient, login, refresh, register, token_request
from testsupport.stack import RESOURCE_A, Stack, StackOptions, running_stack

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
COOKIE_SECRET = "account-page-test-cookie-secret-0123456789"
SESSION = "__Host-authgate-account"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    options = StackOptions(issuer_env={"COOKIE_SECRET": COOKIE_SECRET})
    with running_stack(tmp_path_factory.mktemp("account-stack"), options) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium.launched() as launched_browser:
        yield launched_browser


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context()
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


def grant(
    http: httpx.Client, stack: Stack, name: str, user: str
) -> tuple[RegisteredClient, dict[str, str]]:
    """A client registered under ``name`` and a token response for ``user`` (one grant)."""
    client = register(http, stack.issuer_url, name=name)
    return client, login(http, stack.issuer_url, client, user=user, resources=[RESOURCE_A])


def sign_in(page: Page, stack: Stack, user: str) -> None:
    page.goto(f"{stack.issuer_url}/account")
    page.wait_for_url(f"{stack.standin.url}/login/oauth/authorize?*")
    page.get_by_label("Login").fill(user)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{stack.issuer_url}/account")
    assert page.title() == "Connected apps"


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def rows(page: Page, caption: str) -> list[str]:
    table = page.locator("table", has=page.locator("caption", has_text=caption))
    return [row.inner_text() for row in table.locator("tbody tr").all()]


def csrf(page: Page) -> str:
    return str(page.locator('input[name="csrf_token"]').first.get_attribute("value"))


def post(context: BrowserContext, stack: Stack, form: dict[str, str]) -> tuple[int, str]:
    """A POST /account with this browser's cookies (as a page would send it)."""
    answer = context.request.post(f"{stack.issuer_url}/account", form=form, max_redirects=0)
    return answer.status, answer.text()


def test_user_sees_own_grants_and_a_revocation_reaches_the_verifier_at_once(
    page: Page, stack: Stack, http: httpx.Client
) -> None:
    alpha, alpha_tokens = grant(http, stack, "Alpha Notes", "octocat")
    _, beta_tokens = grant(http, stack, "Beta Tools", "octocat")
    _, other_tokens = grant(http, stack, "Gamma Other", "hubot")
    sign_in(page, stack, "octocat")
    shot(page, "account-grants")
    assert "Signed in with GitHub as octocat" in page.inner_text("body")
    listed = rows(page, "Applications that can use MCP services as you")
    assert not [row for row in listed if "Gamma Other" in row], "hubot's grant must not show"
    (alpha_row,) = [row for row in listed if "Alpha Notes" in row]
    assert [row for row in listed if "Beta Tools" in row]
    for expected in (alpha.client_id, "127.0.0.1", "mcp:*", RESOURCE_A, "UTC"):
        assert expected in alpha_row, expected
    assert stack.verify(alpha_tokens["access_token"]).status_code == 200

    page.get_by_role("button", name=f"Revoke access of Alpha Notes ({alpha.client_id})").click()
    page.wait_for_url(f"{stack.issuer_url}/account?done=revoked")
    assert "Access revoked" in page.get_by_role("status").inner_text()
    shot(page, "account-revoked")
    assert stack.verify(alpha_tokens["access_token"]).status_code == 401
    assert stack.verify(beta_tokens["access_token"]).status_code == 200
    assert stack.verify(other_tokens["access_token"]).status_code == 200
    refused = refresh(http, stack.issuer_url, alpha, alpha_tokens["refresh_token"])
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    remaining = "\n".join(rows(page, "Applications that can use MCP services as you"))
    assert "Alpha Notes" not in remaining and "Beta Tools" in remaining


def test_revoke_all_ends_every_grant_of_the_user_only(
    page: Page, stack: Stack, http: httpx.Client
) -> None:
    tokens = [grant(http, stack, f"Monalisa App {n}", "monalisa")[1] for n in range(2)]
    _, other_tokens = grant(http, stack, "Hubot Keeps This", "hubot")
    sign_in(page, stack, "monalisa")
    listed = "\n".join(rows(page, "Applications that can use MCP services as you"))
    assert "Monalisa App 0" in listed and "Monalisa App 1" in listed
    page.get_by_role("button", name="Revoke all").click()
    page.wait_for_url(f"{stack.issuer_url}/account?done=revoked_all")
    assert "No application holds access" in page.inner_text("body")
    for each in tokens:
        assert stack.verify(each["access_token"]).status_code == 401
    assert stack.verify(other_tokens["access_token"]).status_code == 200


def test_another_users_grant_and_bad_csrf_tokens_change_nothing(
    context: BrowserContext, page: Page, stack: Stack, http: httpx.Client
) -> None:
    hubot_client, hubot_tokens = grant(http, stack, "Hubot Private", "hubot")
    _, own_tokens = grant(http, stack, "Octocat Keeps This", "octocat")
    sign_in(page, stack, "octocat")
    token = csrf(page)
    hubot_grant = hubot_tokens["refresh_token"].partition(".")[0]
    own_grant = own_tokens["refresh_token"].partition(".")[0]

    status, body = post(
        context, stack, {"csrf_token": token, "action": "revoke", "grant_id": hubot_grant}
    )
    assert status == 404 and "Nothing was changed" in body
    for form in (
        {"action": "revoke", "grant_id": own_grant},
        {"action": "revoke", "grant_id": own_grant, "csrf_token": token[:-2] + "xx"},
        {"action": "revoke_all", "csrf_token": "é" + token},
    ):
        assert post(context, stack, form)[0] == 403, form
    assert stack.verify(hubot_tokens["access_token"]).status_code == 200
    assert stack.verify(own_tokens["access_token"]).status_code == 200
    assert refresh(http, stack.issuer_url, hubot_client, hubot_tokens["refresh_token"]).is_success
    # A cross-site form post, as another site's page would send it, is refused too.
    answer = context.request.post(
        f"{stack.issuer_url}/account",
        form={"csrf_token": token, "action": "revoke_all"},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        max_redirects=0,
    )
    assert answer.status == 403
    assert stack.verify(own_tokens["access_token"]).status_code == 200


def forged_session(github_id: str, login: str, browser: str, expires_at: int) -> str:
    """A session cookie signed as the issuer does (account.session), with the stack's secret."""
    payload = base64.urlsafe_b64encode(orjson.dumps([github_id, login, browser, expires_at]))
    text = payload.rstrip(b"=").decode()
    mac = hmac.new(COOKIE_SECRET.encode(), f"account-session|{text}".encode(), hashlib.sha256)
    return f"{text}.{base64.urlsafe_b64encode(mac.digest()).rstrip(b'=').decode()}"


def cookie(stack: Stack, value: str) -> Any:
    # What the issuer's Set-Cookie makes (a __Host- cookie: Secure, Path=/, host only).
    return {"name": SESSION, "value": value, "domain": "127.0.0.1", "path": "/", "secure": True}


def test_forged_expired_and_other_browsers_sessions_mean_signing_in_again(
    context: BrowserContext, page: Page, stack: Stack
) -> None:
    sign_in(page, stack, "octocat")
    cookies = {c["name"]: c["value"] for c in context.cookies()}
    real = cookies[SESSION]
    browser_id = cookies["__Host-authgate-browser"].partition(".")[0]
    payload = orjson.loads(base64.urlsafe_b64decode(real.partition(".")[0] + "=="))
    github_id, login_name, _, expires_at = payload
    assert expires_at - 15 * 60 - 60 < time.time() <= expires_at
    variants = {
        "forged": real[:-3] + "AAA",
        "expired": forged_session(github_id, login_name, browser_id, 1_000_000_000),
        "other browser": forged_session(github_id, login_name, "another-browser", expires_at),
    }
    for name, value in variants.items():
        context.add_cookies([cookie(stack, value)])
        page.goto(f"{stack.issuer_url}/account")
        assert page.url.startswith(f"{stack.standin.url}/login/oauth/authorize?"), name
        status, _ = post(context, stack, {"csrf_token": "x", "action": "revoke_all"})
        assert status == 403, name
    # A genuine session (same secret, this browser) is accepted: the variants failed for
    # their one difference, not for the signing.
    genuine = forged_session(github_id, login_name, browser_id, expires_at)
    context.add_cookies([cookie(stack, genuine)])
    page.goto(f"{stack.issuer_url}/account")
    assert page.url == f"{stack.issuer_url}/account"


def test_page_headers_and_sign_out(context: BrowserContext, page: Page, stack: Stack) -> None:
    sign_in(page, stack, "hubot")
    answer = context.request.get(f"{stack.issuer_url}/account", max_redirects=0)
    assert answer.status == 200
    headers = answer.headers
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "default-src 'none'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store"
    assert "access-control-allow-origin" not in headers
    # A page of another origin cannot frame it.
    page.goto(f"{stack.standin.url}/_standin/health")
    page.set_content(f'<iframe src="{stack.issuer_url}/account"></iframe>')
    framed = [f for f in page.frames if f is not page.main_frame]
    assert len(framed) == 1
    # set_content waited for the frame's load: the browser refused to render it (the session
    # cookie is same-site here, so an allowed frame would show the page).
    assert framed[0].url.startswith("chrome-error://"), framed[0].url
    assert "Connected apps" not in framed[0].content()

    page.goto(f"{stack.issuer_url}/account")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()
    assert page.title() == "Signed out"
    assert SESSION not in {c["name"] for c in context.cookies()}
    page.goto(f"{stack.issuer_url}/account")
    assert page.url.startswith(f"{stack.standin.url}/login/oauth/authorize?")


def test_works_without_javascript(browser: Browser, stack: Stack, http: httpx.Client) -> None:
    _, tokens = grant(http, stack, "No Script App", "monalisa")
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, stack, "monalisa")
        page.get_by_role("button", name="Revoke access of No Script App").click()
        page.wait_for_url(f"{stack.issuer_url}/account?done=revoked")
        assert stack.verify(tokens["access_token"]).status_code == 401
        assert "No Script App" not in page.inner_text("body")
    finally:
        context.close()


@pytest.fixture(scope="module")
def client_app() -> Iterator[EchoUpstream]:
    """A loopback redirect target, so the consent flow lands on a real page."""
    app = EchoUpstream().start()
    yield app
    app.stop()


def approve_remembering(page: Page, stack: Stack, authorize: str, landing: str) -> dict[str, str]:
    """The consent page with "Do not ask again" ticked, Approve, the stand-in's login; the query
    the client's redirect URI received."""
    page.goto(authorize)
    assert page.title() == "Authorize access"
    page.get_by_label("Do not ask again").check()
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url(f"{stack.standin.url}/login/oauth/authorize?*")
    page.get_by_label("Login").fill("octocat")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{landing}?*")
    return dict(parse_qsl(urlsplit(page.url).query))


def test_remembered_consents_are_listed_and_forgotten(
    page: Page, stack: Stack, http: httpx.Client, client_app: EchoUpstream
) -> None:
    redirect_uri = f"{client_app.url}/callback"
    client = register(
        http, stack.issuer_url, public=True, name="Remembered App", redirect_uri=redirect_uri
    )
    pkce = new_pkce()
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
        "resource": RESOURCE_A,
    }
    authorize = f"{stack.issuer_url}/authorize?{urlencode(query)}"
    code = approve_remembering(page, stack, authorize, redirect_uri)["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    form.update(code_verifier=pkce.verifier, resource=RESOURCE_A)
    assert token_request(http, stack.issuer_url, client, form).status_code == 200
    page.goto(authorize)  # remembered: straight to GitHub, no consent page
    page.wait_for_url(f"{stack.standin.url}/login/oauth/authorize?*")

    sign_in(page, stack, "octocat")
    granted = rows(page, "Applications that can use MCP services as you")
    assert [row for row in granted if "Remembered App" in row]
    remembered = rows(page, "Consents remembered in this browser")
    assert len(remembered) == 1
    assert "Remembered App" in remembered[0] and client.client_id in remembered[0]
    assert "mcp:*" in remembered[0] and "UTC" in remembered[0]
    shot(page, "account-page")
    page.get_by_role(
        "button", name=f"Forget the consent to Remembered App ({client.client_id})"
    ).click()
    page.wait_for_url(f"{stack.issuer_url}/account?done=forgotten")
    assert rows(page, "Consents remembered in this browser") == []
    assert "This browser remembers no consent" in page.inner_text("body")
    assert [row for row in rows(page, "Applications") if "Remembered App" in row], (
        "forgetting a consent must not revoke the grant"
    )
    page.goto(authorize)
    assert page.title() == "Authorize access", "a forgotten consent must be asked again"

    approve_remembering(page, stack, authorize, redirect_uri)
    page.goto(f"{stack.issuer_url}/account")
    assert len(rows(page, "Consents remembered in this browser")) == 1
    page.get_by_role("button", name="Forget all").click()
    page.wait_for_url(f"{stack.issuer_url}/account?done=forgotten_all")
    assert rows(page, "Consents remembered in this browser") == []
    page.goto(authorize)
    assert page.title() == "Authorize access"
