"""Signing in to /account through the GitHub stand-in, and every way that sign-in is refused
(replayed, unknown or foreign state, GitHub denial or outage) without a session or a code."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from authgate_issuer.account.session import SESSION_COOKIE
from testsupport.browser_flow import Browser
from testsupport.github_standin import GitHubStandin, standin_login, start_standin

ISS = "https://auth.example.com"


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitHubStandin]:
    proc = start_standin(tmp_path_factory.mktemp("standin"), users=["OctoCat:583231", "hubot"])
    yield proc
    proc.stop()


@pytest.fixture(autouse=True)
def no_faults(standin: GitHubStandin) -> None:
    standin.set_faults()


@pytest.fixture
def env(env: dict[str, str], standin: GitHubStandin) -> dict[str, str]:
    # Allow-lists that admit nobody: the account page is open to every GitHub user.
    return {**env, **standin.issuer_env(), "ALLOWED_GITHUB_USERS": "", "GITHUB_TIMEOUT_MS": "700"}


def start(browser: Browser) -> str:
    """GET /account without a session: the GitHub authorize URL it sends the browser to."""
    answer = browser.get(f"{ISS}/account")
    assert answer.status_code == 302, answer.text
    location = str(answer.headers["location"])
    query = parse_qs(urlsplit(location).query)
    assert query["redirect_uri"] == [f"{ISS}/callback"]
    assert query["state"][0].startswith("account.")
    assert answer.headers["cache-control"] == "no-store"
    return location


def test_sign_in_gives_a_short_host_only_session(client, standin, redis_client) -> None:
    browser = Browser(ISS, client)
    callback = standin_login(httpx.Client(timeout=10), start(browser), "octocat")
    answer = browser.get(callback)
    assert answer.status_code == 302 and answer.headers["location"] == f"{ISS}/account"
    (cookie,) = [c for c in answer.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)]
    assert cookie.endswith("; Max-Age=900; Path=/; Secure; HttpOnly; SameSite=Lax")
    page = browser.get(f"{ISS}/account")
    assert page.status_code == 200
    assert "Signed in with GitHub as" in page.text and "OctoCat" in page.text
    assert not list(redis_client.scan_iter("oauth:code:*")), "an account sign-in issues no code"
    assert not list(redis_client.scan_iter("oauth:account_state:*")), "the state is used up"

    replayed = browser.get(callback)
    assert replayed.status_code == 400 and "Sign-in did not complete" in replayed.text
    assert not [c for c in replayed.headers.get_list("set-cookie") if SESSION_COOKIE in c]


def test_a_state_from_another_browser_or_unknown_is_refused(client, standin) -> None:
    mine = Browser(ISS, client)
    callback = standin_login(httpx.Client(timeout=10), start(mine), "octocat")
    thief = Browser(ISS, client)
    thief.get(f"{ISS}/account")  # a browser cookie of its own
    stolen = thief.get(callback)
    assert stolen.status_code == 400 and SESSION_COOKIE not in thief.cookies
    # The state was spent by the refused attempt: the real browser must start again.
    assert mine.get(callback).status_code == 400
    assert mine.get(f"{ISS}/callback?state=account.unknown&code=x").status_code == 400
    assert SESSION_COOKIE not in mine.cookies


def test_github_denial_or_outage_gives_no_session(client, standin) -> None:
    browser = Browser(ISS, client)
    denied = standin_login(httpx.Client(timeout=10), start(browser), "octocat", deny=True)
    answer = browser.get(denied)
    assert answer.status_code == 400 and "GitHub did not confirm" in answer.text
    callback = standin_login(httpx.Client(timeout=10), start(browser), "octocat")
    standin.set_faults(token="error500")
    failed = browser.get(callback)
    assert failed.status_code == 400 and "try again" in failed.text
    assert SESSION_COOKIE not in browser.cookies
    assert browser.get(f"{ISS}/account").status_code == 302
