"""GET /authorize: page errors never redirect, later errors redirect with iss, consent page."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from testsupport.browser_flow import new_pkce, store_client
from testsupport.github_standin import GitHubStandin, start_standin

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


@pytest.fixture
def app_client(redis_client) -> str:
    return store_client(
        redis_client,
        [APP_CB + "?tenant=a", "http://127.0.0.1/callback", "cursor://anysphere.cursor/cb"],
        name="<script>alert(1)</script>",
    )


def query(**params: str | list[str] | None) -> str:
    base: dict[str, str | list[str] | None] = {
        "response_type": "code",
        "client_id": "test-client",
        "redirect_uri": APP_CB + "?tenant=a",
        "code_challenge": PKCE.challenge,
        "code_challenge_method": "S256",
        "state": "xyz",
        "resource": "https://mcp-a.example.com",
    }
    base.update(params)
    return "/authorize?" + urlencode({k: v for k, v in base.items() if v is not None}, doseq=True)


def get(client, url: str):
    return client.get(url, follow_redirects=False)


def assert_page(response, status: int = 400) -> None:
    assert response.status_code == status
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["x-frame-options"] == "DENY"


def assert_nothing_pending(redis_client) -> None:
    assert list(redis_client.scan_iter("oauth:consent:*")) == []
    assert list(redis_client.scan_iter("oauth:state:*")) == []


def test_consent_page_escapes_and_cannot_be_framed(client, app_client, redis_client) -> None:
    page = get(client, query(resource="https://MCP.example.com/"))
    assert_page(page, 200)
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script" not in page.text.lower()
    assert "test-client" in page.text and "app.example.org" in page.text
    assert "mcp:*" in page.text and "https://mcp.example.com" in page.text
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src" not in csp
    assert "default-src 'none'" in csp
    assert page.headers["cache-control"] == "no-store"
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("__Host-authgate-browser=")
    for attribute in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert attribute in cookie
    assert "Domain" not in cookie
    # The consent request is stored under a hash, not the id the page carries.
    keys = [k.decode() for k in redis_client.scan_iter("oauth:consent:*")]
    assert len(keys) == 1
    assert keys[0].split("{")[1].rstrip("}") not in page.text
    assert list(redis_client.scan_iter("oauth:state:*")) == []  # no GitHub state before consent


def test_loopback_and_app_scheme_redirects_are_flagged(client, app_client) -> None:
    loopback = get(client, query(redirect_uri="http://127.0.0.1:53124/callback"))
    assert loopback.status_code == 200  # any port for loopback (RFC 8252 §7.3)
    assert "your own computer" in loopback.text
    app = get(client, query(redirect_uri="cursor://anysphere.cursor/cb"))
    assert app.status_code == 200 and "&#x27;cursor:&#x27;" in app.text
    web = get(client, query())
    assert "your own computer" not in web.text and "will open the application" not in web.text


@pytest.mark.parametrize(
    "params",
    [
        {"client_id": "unknown-client"},
        {"client_id": None},
        {"redirect_uri": "https://evil.example.net/cb"},
        {"redirect_uri": APP_CB},  # registered with ?tenant=a: exact match only
        {"redirect_uri": APP_CB + "?tenant=a&x=1"},
        {"redirect_uri": "http://127.0.0.1:8080/other"},
        {"redirect_uri": "http://localhost:8080/callback"},  # another loopback host
        {"redirect_uri": "cursor://anysphere.cursor/cb/../x"},
        {"redirect_uri": None},  # three are registered
        {"redirect_uri": "//evil.example.net/cb"},
        {"redirect_uri": "javascript:alert(1)"},
    ],
)
def test_client_and_redirect_errors_never_redirect(
    client, app_client, redis_client, params
) -> None:
    # Even with other mistakes present (PKCE missing), no redirect happens.
    response = get(client, query(code_challenge=None, **params))
    assert_page(response)
    assert_nothing_pending(redis_client)


@pytest.mark.parametrize("name", ["client_id", "redirect_uri", "state", "code_challenge", "scope"])
def test_repeated_parameters_are_refused_without_redirect(client, app_client, name) -> None:
    url = query(scope="mcp:*") + "&" + urlencode({name: "again"})
    assert_page(get(client, url))


def test_expired_client_is_unknown(client, redis_client) -> None:
    store_client(redis_client, [APP_CB], client_id="old", expires_at=1)
    assert_page(get(client, query(client_id="old", redirect_uri=APP_CB)))


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": None}, "invalid_request"),
        ({"scope": "admin"}, "invalid_scope"),
        ({"resource": "https://evil-example.com/mcp"}, "invalid_target"),
        (
            {"resource": ["https://mcp.example.com", "https://example.com.evil.net"]},
            "invalid_target",
        ),
        ({"resource": "https://mcp.example.com/#x"}, "invalid_target"),
    ],
)
def test_later_errors_redirect_with_iss(client, app_client, redis_client, params, error) -> None:
    response = get(client, query(**params))
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(APP_CB + "?tenant=a&")
    got = parse_qs(urlsplit(location).query)
    assert got["tenant"] == ["a"] and got["error"] == [error]
    assert got["state"] == ["xyz"] and got["iss"] == [ISS]
    assert got["error_description"][0]
    assert_nothing_pending(redis_client)


def test_empty_parameters_count_as_absent(client, app_client) -> None:
    no_state = get(client, query(state="", code_challenge_method="plain"))
    assert no_state.status_code == 302
    assert "state" not in parse_qs(urlsplit(no_state.headers["location"]).query)
    # Empty scope = default scope; unknown parameters are ignored.
    page = get(client, query(scope="", prompt="consent", foo="bar"))
    assert page.status_code == 200 and "mcp:*" in page.text


def test_single_redirect_uri_may_be_omitted(client, redis_client) -> None:
    store_client(redis_client, ["http://localhost/cb"], client_id="native")
    page = get(client, query(client_id="native", redirect_uri=None))
    assert page.status_code == 200 and "localhost" in page.text
    error = get(client, query(client_id="native", redirect_uri=None, scope="nope"))
    assert error.status_code == 302
    assert error.headers["location"].startswith("http://localhost/cb?error=invalid_scope&")
