"""Consent: Approve/Deny, CSRF bound to the browser, remembered approvals per browser+client."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from authgate_issuer.oauth import consent_cookie
from authgate_issuer.settings import IssuerSettings
from authgate_issuer.store.keystore import load_key_ring
from testsupport.browser_flow import Browser, new_pkce, store_client
from testsupport.github_standin import GitHubStandin, hidden_fields, start_standin

ISS = "https://auth.example.com"
APP_CB = "https://app.example.org/cb"
PKCE = new_pkce()


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitHubStandin]:
    proc = start_standin(tmp_path_factory.mktemp("standin"))
    yield proc
    proc.stop()


@pytest.fixture
def env(env: dict[str, str], standin: GitHubStandin, signing_pem: str) -> dict[str, str]:
    return {**env, **standin.issuer_env(), "GATEWAY_RSA_PRIVATE_KEY": signing_pem}


@pytest.fixture(autouse=True)
def clients(redis_client) -> None:
    store_client(redis_client, [APP_CB], client_id="app-a", name="App A")
    store_client(redis_client, [APP_CB], client_id="app-b", name="App B")


def authorize(browser: Browser, client_id: str = "app-a", **extra: str):
    params = {
        "response_type": "code",
        "client_id": client_id,
        "code_challenge": PKCE.challenge,
        "code_challenge_method": "S256",
        "state": "st",
        "resource": "https://mcp-a.example.com",
        **extra,
    }
    return browser.get(f"{ISS}/authorize?{urlencode(params)}")


def states(redis_client) -> int:
    return len(list(redis_client.scan_iter("oauth:state:*")))


def test_approve_creates_the_github_state_only_now(client, redis_client, standin) -> None:
    browser = Browser(ISS, client)
    page = authorize(browser)
    assert page.status_code == 200 and states(redis_client) == 0
    approved = browser.consent(page)
    assert approved.status_code == 303
    location = approved.headers["location"]
    assert location.startswith(f"{standin.url}/login/oauth/authorize?")
    query = parse_qs(urlsplit(location).query)
    assert query["client_id"] == [standin.client_id]
    assert query["redirect_uri"] == [f"{ISS}/callback"]
    assert query["scope"] == ["read:user"]
    state = query["state"][0]
    assert len(state) >= 43 and state != "st"  # ours, not the client's
    keys = list(redis_client.scan_iter("oauth:state:*"))
    assert len(keys) == 1 and state.encode() not in keys[0]  # stored hashed
    assert 0 < redis_client.ttl(keys[0]) <= 300
    assert list(redis_client.scan_iter("oauth:consent:*")) == []  # consumed
    again = browser.consent(page)  # the same form twice
    assert again.status_code == 400 and "location" not in again.headers
    assert states(redis_client) == 1


def test_deny_returns_access_denied_to_the_client(client, redis_client) -> None:
    browser = Browser(ISS, client)
    denied = browser.consent(authorize(browser), action="deny")
    assert denied.status_code == 303
    location = denied.headers["location"]
    assert location.startswith(APP_CB + "?")
    got = parse_qs(urlsplit(location).query)
    assert got["error"] == ["access_denied"]
    assert got["state"] == ["st"] and got["iss"] == [ISS]
    assert states(redis_client) == 0


def forged(client, browser: Browser, fields: dict[str, str], cookie: str | None):
    headers = {"Cookie": cookie} if cookie is not None else {}
    client.cookies.clear()
    return client.post(
        f"{ISS}/authorize/consent", data=fields, headers=headers, follow_redirects=False
    )


def test_csrf_failures_are_refused_and_issue_nothing(client, redis_client) -> None:
    victim = Browser(ISS, client)
    page = authorize(victim)
    fields = {**hidden_fields(page.text), "action": "approve"}
    cookie = "; ".join(f"{k}={v}" for k, v in victim.cookies.items())
    attacker = Browser(ISS, client)
    authorize(attacker)
    attacker_cookie = "; ".join(f"{k}={v}" for k, v in attacker.cookies.items())
    name, _, value = cookie.partition("=")
    attempts = [
        ({k: v for k, v in fields.items() if k != "csrf_token"}, cookie),
        ({**fields, "csrf_token": "A" * 43}, cookie),
        (fields, None),
        (fields, attacker_cookie),
        (fields, f"{name}={value.split('.')[0]}.forged"),
        ({**fields, "request_id": "x" + fields["request_id"]}, cookie),
    ]
    for data, with_cookie in attempts:
        response = forged(client, victim, data, with_cookie)
        assert response.status_code in (400, 403), data
        assert "location" not in response.headers
        assert response.headers["x-frame-options"] == "DENY"
    assert states(redis_client) == 0
    # The forgeries did not burn the victim's pending consent.
    assert victim.consent(page).status_code == 303


def test_remembered_approval_is_per_browser_and_client(client, redis_client, standin) -> None:
    browser = Browser(ISS, client)
    first = browser.consent(authorize(browser), remember=True)
    remembered = first.headers["set-cookie"]
    assert remembered.startswith(consent_cookie.APPROVALS_COOKIE + "=")
    assert "Secure" in remembered and "HttpOnly" in remembered and "SameSite=Lax" in remembered
    again = authorize(browser)
    assert again.status_code == 302  # straight to GitHub, consent remembered
    assert again.headers["location"].startswith(f"{standin.url}/login/oauth/authorize?")
    assert authorize(browser, "app-b").status_code == 200  # another client asks again
    wider = authorize(browser, resource="https://mcp.example.com")
    assert wider.status_code == 200  # a different request shape asks again
    # The approvals cookie is useless in another browser (bound to the browser id).
    other = Browser(ISS, client)
    authorize(other)
    other.cookies[consent_cookie.APPROVALS_COOKIE] = browser.cookies[
        consent_cookie.APPROVALS_COOKIE
    ]
    assert authorize(other).status_code == 200
    # ... and cannot be edited.
    browser.cookies[consent_cookie.APPROVALS_COOKIE] += "x"
    assert authorize(browser).status_code == 200


def test_without_remember_consent_is_asked_every_time(client) -> None:
    browser = Browser(ISS, client)
    approved = browser.consent(authorize(browser))
    assert "set-cookie" not in approved.headers
    assert authorize(browser).status_code == 200


def test_replicas_derive_the_same_cookie_key(env, keys_dir) -> None:
    plain = {k: v for k, v in env.items() if k != "GATEWAY_RSA_PRIVATE_KEY"}
    settings = IssuerSettings.from_env(plain)
    one, two = load_key_ring(settings), load_key_ring(settings)  # same KEYS_DIR
    key = consent_cookie.cookie_key(settings, one)
    assert key == consent_cookie.cookie_key(settings, two) and len(key) == 32
    browser, cookie = consent_cookie.new_browser(key, lambda n: b"\x01" * n)
    assert consent_cookie.read_browser(key, cookie) == browser
    explicit = IssuerSettings.from_env({**plain, "COOKIE_SECRET": "s" * 40})
    assert consent_cookie.cookie_key(explicit, one) == b"s" * 40
    assert consent_cookie.read_browser(b"s" * 40, cookie) is None
