"""GET /callback: state once, GitHub via the stand-in, allowlist, code issuance, failures."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from authgate_issuer.app import create_app
from authgate_issuer.settings import IssuerSettings
from testsupport.browser_flow import Browser, FlowResult, new_pkce, store_client
from testsupport.github_standin import GitHubStandin, standin_login, start_standin
from testsupport.issuer import start_issuer
from testsupport.ports import free_port

ISS = "https://auth.example.com"
APP_CB = "https://app.example.org/cb"
PKCE = new_pkce()


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitHubStandin]:
    proc = start_standin(tmp_path_factory.mktemp("standin"), users=["OctoCat:583231", "hubot"])
    yield proc
    proc.stop()


@pytest.fixture(autouse=True)
def no_faults(standin: GitHubStandin) -> None:
    standin.set_faults()


@pytest.fixture
def env(env: dict[str, str], standin: GitHubStandin, signing_pem: str) -> dict[str, str]:
    return {
        **env,
        **standin.issuer_env(),
        "GATEWAY_RSA_PRIVATE_KEY": signing_pem,
        "GITHUB_TIMEOUT_MS": "700",
    }


@pytest.fixture(autouse=True)
def app_client(redis_client) -> None:
    store_client(redis_client, [APP_CB + "?t=1", "http://127.0.0.1/cb"], client_id="app")


def issuer_with(env: dict[str, str], **overrides: str) -> TestClient:
    return TestClient(create_app(IssuerSettings.from_env({**env, **overrides})), base_url=ISS)


def flow(client, login: str = "octocat", **kwargs) -> FlowResult:
    return Browser(ISS, client).run("app", APP_CB + "?t=1", PKCE, login=login, **kwargs)


def assert_redirect_error(result: FlowResult, error: str) -> None:
    assert result.location.startswith(APP_CB + "?t=1&")
    assert result.params["error"] == error and "code" not in result.params
    assert result.params["state"] == "client-state" and result.params["iss"] == ISS


def codes(redis_client) -> list[bytes]:
    return list(redis_client.scan_iter("oauth:code:*"))


def test_code_is_issued_bound_to_the_request(client, redis_client) -> None:
    result = flow(client, "OCTOCAT", resources=["https://MCP.example.com/"])
    assert result.params["state"] == "client-state" and result.params["iss"] == ISS
    assert result.params["t"] == "1"
    code = result.code
    assert len(code) >= 43  # 256 bits
    [key] = codes(redis_client)
    assert code.encode() not in key  # stored under its hash
    assert 0 < redis_client.ttl(key) <= 600
    record = orjson.loads(redis_client.get(key))
    assert record == {
        **record,
        "client_id": "app",
        "redirect_uri": APP_CB + "?t=1",
        "redirect_uri_in_request": True,
        "code_challenge": PKCE.challenge,
        "scope": "mcp:*",
        "resources": ["https://mcp.example.com"],
        "username": "OctoCat",  # GitHub's spelling, whatever was typed
        "github_id": "583231",
    }
    assert list(redis_client.scan_iter("oauth:state:*")) == []


def test_state_is_single_use_and_bound_to_the_browser(client, standin, redis_client) -> None:
    browser = Browser(ISS, client)
    params = {"response_type": "code", "client_id": "app", "redirect_uri": APP_CB + "?t=1"}
    params |= {"code_challenge": PKCE.challenge, "code_challenge_method": "S256", "resource": "https://mcp-a.example.com"}
    page = browser.get(f"{ISS}/authorize?{httpx.QueryParams(params)}")
    github_url = browser.consent(page).headers["location"]
    callback = standin_login(browser.github, github_url, "octocat")
    stranger = Browser(ISS, client)  # another browser presents the callback: refused, burnt
    refused = stranger.get(callback)
    assert refused.status_code == 400 and "location" not in refused.headers
    again = browser.get(callback)
    assert again.status_code == 400 and "location" not in again.headers
    assert codes(redis_client) == []
    for bad in ("/callback", "/callback?state=nope&code=x", "/callback?state=a&state=b"):
        response = browser.get(ISS + bad)
        assert response.status_code == 400 and "location" not in response.headers


def test_github_deny_is_access_denied(client, standin, redis_client) -> None:
    browser = Browser(ISS, client)
    params = {"response_type": "code", "client_id": "app", "redirect_uri": APP_CB + "?t=1"}
    params |= {"code_challenge": PKCE.challenge, "code_challenge_method": "S256", "state": "s"}
    params["resource"] = "https://mcp-a.example.com"
    page = browser.get(f"{ISS}/authorize?{httpx.QueryParams(params)}")
    github_url = browser.consent(page).headers["location"]
    denied = browser.get(standin_login(browser.github, github_url, "octocat", deny=True))
    assert denied.status_code == 302
    got = parse_qs(urlsplit(denied.headers["location"]).query)
    assert got["error"] == ["access_denied"] and got["state"] == ["s"] and got["iss"] == [ISS]
    assert codes(redis_client) == []


@pytest.mark.parametrize(
    ("allowed", "login", "ok"),
    [
        ("octocat", "octocat", True),
        ("  OCTOCAT , someone ", "OctoCat", True),
        ("*", "hubot", True),
        ("octocat", "hubot", False),
        ("", "octocat", False),
    ],
)
def test_allowlist(env, redis_client, caplog, allowed, login, ok) -> None:
    caplog.set_level(logging.INFO, logger="authgate")
    with issuer_with(env, ALLOWED_GITHUB_USERS=allowed) as client:
        result = flow(client, login)
    if ok:
        assert result.code and len(codes(redis_client)) == 1
        return
    assert_redirect_error(result, "access_denied")
    assert codes(redis_client) == []
    denied = [r for r in caplog.records if getattr(r, "fields", {}).get("event") == "login_denied"]
    assert len(denied) == 1 and denied[0].fields["client_id"] == "app"


@pytest.mark.parametrize(
    ("token", "user", "error"),
    [
        ("error500", "none", "temporarily_unavailable"),
        ("malformed", "none", "temporarily_unavailable"),
        ("slow", "none", "temporarily_unavailable"),
        ("none", "error500", "temporarily_unavailable"),
        ("none", "malformed", "temporarily_unavailable"),
        ("none", "slow", "temporarily_unavailable"),
        ("bad_code", "none", "access_denied"),
        ("none", "unauthorized", "server_error"),
    ],
)
def test_github_failures_redirect_never_500(client, standin, redis_client, token, user, error):
    standin.set_faults(token=token, user=user, delay=3)
    assert_redirect_error(flow(client), error)
    assert codes(redis_client) == []


def test_github_down_and_misconfigured(env, standin, redis_client) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    with issuer_with(env, GITHUB_API_URL=closed) as client:
        assert_redirect_error(flow(client), "temporarily_unavailable")
    with issuer_with(env, GITHUB_CLIENT_SECRET="wrong") as client:
        assert_redirect_error(flow(client), "server_error")
    assert codes(redis_client) == []


def test_real_processes_loopback_redirect_any_port(env, redis_client, tmp_path: Path) -> None:
    proc = start_issuer(env, tmp_path, issuer_url_from_port=True)
    try:
        with httpx.Client(timeout=10) as http:
            browser = Browser(proc.url, http)
            result = browser.run(
                "app", "http://127.0.0.1:61234/cb", PKCE, login="octocat", state=None
            )
    finally:
        proc.stop()
    assert result.location.startswith("http://127.0.0.1:61234/cb?code=")
    assert result.params["iss"] == proc.url and "state" not in result.params
    record = orjson.loads(redis_client.get(codes(redis_client)[0]))
    assert record["redirect_uri"] == "http://127.0.0.1:61234/cb"
    assert record["username"] == "OctoCat"
