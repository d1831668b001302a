"""Browser-side attacks of the attack index (tests/test_attacks.py's docstring maps each one):
injected ``state``, error paths that must never redirect elsewhere, framing, and metadata
payloads on the consent page, all through the real processes over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from testsupport import flows
from testsupport.browser_flow import Browser, new_pkce
from testsupport.stack import Stack, running_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("attacks-browser")) as running:
        yield running


@pytest.fixture(scope="module")
def client(stack: Stack, http: httpx.Client) -> flows.RegisteredClient:
    return flows.register(http, stack.issuer_url)


def test_state_cannot_inject_response_parameters(
    stack: Stack, http: httpx.Client, client: flows.RegisteredClient
) -> None:
    state = "s&code=injected&iss=https://evil.example.com&error=x#frag"
    result = Browser(stack.issuer_url, issuer=http, github=http).run(
        client.client_id, client.redirect_uri, new_pkce(), state=state
    )
    query = parse_qs(urlsplit(result.location).query)
    assert urlsplit(result.location).fragment == ""
    assert query["state"] == [state]
    assert query["iss"] == [stack.issuer_url]
    assert len(query["code"]) == 1 and query["code"] != ["injected"]
    assert "error" not in query


def test_error_paths_never_redirect_elsewhere(
    stack: Stack, http: httpx.Client, client: flows.RegisteredClient
) -> None:
    """Every refusal of the browser routes is a page or a redirect to the registered URI."""
    url = stack.issuer_url
    evil = "https://evil.example.com/cb"
    bad_requests = [
        f"{url}/authorize?client_id={client.client_id}&redirect_uri={evil}&response_type=code",
        f"{url}/authorize?client_id=nope&redirect_uri={evil}&response_type=code",
        f"{url}/callback?state=unknown&code=x",
        f"{url}/callback?error=access_denied&state=unknown",
        f"{url}/callback?state=a&state=b",
    ]
    for target in bad_requests:
        answer = http.get(target)
        assert answer.status_code == 400 and "location" not in answer.headers, target
    consent = http.post(f"{url}/authorize/consent", data={"request_id": "x", "csrf_token": "y"})
    assert consent.status_code in (400, 403) and "location" not in consent.headers
    later = http.get(
        f"{url}/authorize?client_id={client.client_id}&redirect_uri={client.redirect_uri}"
        "&response_type=code&state=s"  # no PKCE: an error for the (known good) redirect URI
    )
    assert later.status_code == 302
    assert later.headers["location"].startswith(client.redirect_uri + "?")


def test_no_page_can_be_framed(
    stack: Stack, http: httpx.Client, client: flows.RegisteredClient
) -> None:
    pkce = new_pkce()
    pages = [
        http.get(
            f"{stack.issuer_url}/authorize?response_type=code&client_id={client.client_id}"
            f"&redirect_uri={client.redirect_uri}&code_challenge={pkce.challenge}"
            "&code_challenge_method=S256&resource=https://mcp-a.example.com"
        ),
        http.get(f"{stack.issuer_url}/authorize?client_id=unknown"),
        http.get(f"{stack.issuer_url}/callback?state=unknown"),
        http.post(f"{stack.issuer_url}/authorize/consent", data={"request_id": "x"}),
    ]
    assert pages[0].status_code == 200 and "<form" in pages[0].text
    for page in pages:
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    for path in ("/health", "/jwks", "/.well-known/oauth-authorization-server"):
        assert http.get(stack.issuer_url + path).headers["x-frame-options"] == "DENY"


def test_metadata_payloads_are_inert_on_the_consent_page(stack: Stack, http: httpx.Client) -> None:
    payload = "\"'><script>alert(1)</script><img src=x onerror=alert(1)>"
    body = {
        # Raw markup in a URI is refused at registration (tests/test_attacks_metadata.py); its
        # percent-encoded form is a valid URI, and must stay inert as well.
        "redirect_uris": [f"https://app.example.com/cb?x={quote(payload, safe='')}"],
        "client_name": payload,
        "client_uri": "https://app.example.com/%22onmouseover=alert(1)",
        "software_id": payload,
        "token_endpoint_auth_method": "none",
    }
    registered = http.post(f"{stack.issuer_url}/register", json=body)
    assert registered.status_code == 201, registered.text
    client_id = registered.json()["client_id"]
    page = http.get(
        f"{stack.issuer_url}/authorize",
        params={
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": body["redirect_uris"][0],
            "code_challenge": new_pkce().challenge,
            "code_challenge_method": "S256",
            "state": payload,
            "scope": "mcp:*",
            "resource": "https://mcp-a.example.com",
        },
    )
    assert page.status_code == 200, page.text
    lowered = page.text.lower()
    assert "<script" not in lowered and "<img" not in lowered
    assert '"onmouseover' not in lowered and "'>" not in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
