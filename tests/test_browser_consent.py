"""The consent page in a real browser: Debian's Chromium driven by Playwright.

Screenshots of every step are saved under artifacts/ (gitignored) for a human to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
import redis
from playwright.sync_api import Browser, Dialog, Page

from testsupport import chromium
from testsupport.browser_flow import new_pkce, store_client
from testsupport.echo_upstream import EchoUpstream
from testsupport.flows import register
from testsupport.stack import RESOURCE_A, Stack, StackOptions, running_stack

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
EVIL_NAME = "<img src=x onerror=alert(1)>"
RLO_NAME = "Acme \u202eecafer\u202c Tools\u200b"
UNTERMINATED_RLO = "Acme \u202eecafer Tools"  # no U+202C: reverses everything after it
# Where three words of the sentence after the client name are drawn, left to right or not.
WORD_ORDER = """p => {
    const node = p.querySelector("strong").nextSibling;
    const left = word => {
        const range = document.createRange(), at = node.data.indexOf(word);
        range.setStart(node, at);
        range.setEnd(node, at + word.length);
        return range.getBoundingClientRect().left;
    };
    return left("wants") < left("to") && left("to") < left("access");
}"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    options = StackOptions(verifier=False)
    with running_stack(tmp_path_factory.mktemp("browser-stack"), options) as running:
        yield running


@pytest.fixture(scope="module")
def client_app() -> Iterator[EchoUpstream]:
    """The MCP client's loopback redirect target, so the browser lands on a real page."""
    app = EchoUpstream().start()
    yield app
    app.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium.launched() as launched_browser:
        yield launched_browser


@pytest.fixture
def dialogs() -> list[str]:
    """Messages of every JavaScript dialog a page opened (an injected alert() would land here)."""
    return []


@pytest.fixture
def page(browser: Browser, dialogs: list[str]) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    yield page
    context.close()


def authorize_url(stack: Stack, redirect_uri: str, name: str) -> str:
    client = register(
        httpx.Client(timeout=10),
        stack.issuer_url,
        public=True,
        name=name,
        redirect_uri=redirect_uri,
    )
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "code_challenge": new_pkce().challenge,
        "code_challenge_method": "S256",
        "state": "browser-state",
        "resource": RESOURCE_A,
    }
    return f"{stack.issuer_url}/authorize?{urlencode(params)}"


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"consent-{name}.png"), full_page=True)


def landed(page: Page, client_app: EchoUpstream) -> dict[str, str]:
    """The query the client's redirect URI received (from the browser and from the server)."""
    page.wait_for_url(f"{client_app.url}/callback?*")
    query = dict(parse_qsl(urlsplit(page.url).query))
    paths = [r.path for r in client_app.received]
    assert "/callback?" + urlsplit(page.url).query in paths
    return query


def open_consent(page: Page, stack: Stack, client_app: EchoUpstream, name: str) -> None:
    page.goto(authorize_url(stack, f"{client_app.url}/callback", name))
    assert page.title() == "Authorize access"
    assert page.locator("strong").first.inner_text() == name
    body = page.inner_text("body")
    assert f"You will be sent back to 127.0.0.1 ({client_app.url}/callback)" in body
    assert "loopback address" in page.locator(".warn").inner_text()


def test_deny_sends_access_denied_to_the_client(
    page: Page, stack: Stack, client_app: EchoUpstream
) -> None:
    open_consent(page, stack, client_app, "Browser Test Client")
    shot(page, "page")
    page.get_by_role("button", name="Deny").click()
    query = landed(page, client_app)
    shot(page, "denied")
    assert query["error"] == "access_denied"
    assert query["state"] == "browser-state"
    assert query["iss"] == stack.issuer_url
    assert "code" not in query


def test_approve_then_github_login_gives_the_client_a_code(
    page: Page, stack: Stack, client_app: EchoUpstream
) -> None:
    open_consent(page, stack, client_app, "Browser Test Client")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url(f"{stack.standin.url}/login/oauth/authorize?*")
    shot(page, "github-standin")
    page.get_by_label("Login").fill("octocat")
    page.get_by_role("button", name="Sign in").click()
    query = landed(page, client_app)
    shot(page, "approved")
    assert len(query["code"]) >= 22
    assert query["state"] == "browser-state"
    assert query["iss"] == stack.issuer_url


def test_client_name_with_markup_shows_as_text(
    page: Page, stack: Stack, client_app: EchoUpstream, dialogs: list[str]
) -> None:
    open_consent(page, stack, client_app, EVIL_NAME)
    shot(page, "escaped-name")
    assert page.locator("img").count() == 0
    assert dialogs == []


def test_a_right_to_left_override_is_refused_and_cannot_reorder_the_page(
    page: Page, stack: Stack, client_app: EchoUpstream
) -> None:
    redirect_uri = f"{client_app.url}/callback"
    refused = httpx.post(
        f"{stack.issuer_url}/register",
        json={"redirect_uris": [redirect_uri], "client_name": RLO_NAME},
        timeout=10,
    )
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "invalid_client_metadata"
    assert "client_name" in refused.json()["error_description"]
    # A record stored before that rule: its override must end at the name's <bdi>.
    store = redis.Redis.from_url(stack.redis_url)
    client_id = store_client(store, [redirect_uri], client_id="legacy-rlo", name=UNTERMINATED_RLO)
    store.close()
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "code_challenge": new_pkce().challenge,
        "code_challenge_method": "S256",
        "resource": RESOURCE_A,
    }
    page.goto(f"{stack.issuer_url}/authorize?{urlencode(params)}")
    shot(page, "legacy-rlo-name")
    assert page.locator("strong > bdi").count() == 1
    name = page.locator("strong > bdi")
    assert name.inner_text() == UNTERMINATED_RLO
    assert name.evaluate("e => getComputedStyle(e).unicodeBidi") == "isolate"
    sentence = page.locator("p", has=page.locator("strong"))
    assert sentence.evaluate(WORD_ORDER) is True
    values = page.locator("code > bdi")
    assert values.count() >= 4
    for index in range(values.count()):
        assert values.nth(index).evaluate("e => getComputedStyle(e).direction") == "ltr"
