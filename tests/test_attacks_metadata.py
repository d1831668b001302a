"""Client-metadata and client-identity attacks of the attack index (tests/test_attacks.py's
docstring maps each one), through the real processes over HTTP: redirect and other URIs that are
not RFC 3986 URIs, invisible or direction-changing characters in client text shown to the user,
contacts that are not e-mail addresses, client authentication as a client-id oracle, and GitHub
accounts the issuer cannot use reported as an outage."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from testsupport import flows
from testsupport.browser_flow import Browser, new_pkce
from testsupport.stack import RESOURCE_A, Stack, StackOptions, running_stack

GOOD_CB = "http://127.0.0.1:8765/callback"
CREDENTIALS = ("client_secret", "registration_access_token")
# Not RFC 3986 URIs (Appendix A): characters outside every component's set, and '%' without
# two hex digits after it (§2.1).
NOT_URIS = {
    "markup-in-query": 'https://good.example/cb?a="><script>alert(1)</script>',
    "braces-pipe-caret": "https://good.example/cb?a={}|^",
    "backtick": "https://good.example/cb?a=`id`",
    "bad-escape": "https://good.example/cb?a=%zz",
    "short-escape": "https://good.example/cb%2",
    "angle-brackets-in-path": "https://good.example/<cb>",
    "square-brackets-in-path": "https://good.example/cb[0]",
    "double-quote-on-loopback": 'http://127.0.0.1:8765/cb?"x',
    "app-scheme-markup": "cursor://anysphere.cursor-retrieval/cb?<x>",
    "del-character": "https://good.example/cb\x7f",
}
# Still registrable: what MCP clients really send (RFC 8252 §7.1, §7.3) and valid escapes.
STILL_URIS = [
    "http://127.0.0.1:33418/callback",
    "http://[::1]:8080/cb",
    "http://localhost:6274/oauth/callback",
    "https://app.example.com:8443/cb?x=1&y=(a)*,;=:@/?",
    "https://app.example.com/my%20app/cb?",
    "https://[2001:db8::1]/cb",
    "cursor://anysphere.cursor-retrieval/oauth/user-github/callback",
    "vscode://vscode.github-authentication/did-authenticate",
    "com.example.app:/oauth2redirect",
]
URL_MEMBERS = ("client_uri", "logo_uri", "tos_uri", "policy_uri")
# Unicode Cf / Cc / Co / Zl / Zp and other invisible characters: each can hide or reorder text.
HIDDEN = {
    "rlo-override": "Acme \u202eecafer\u202c Tools\u200b",
    "unterminated-rlo": "Acme \u202eecafer Tools",
    "zero-width-space": "Acme\u200bTools",
    "rtl-isolate": "Acme \u2067Tools",
    "rtl-mark": "Acme\u200f Tools",
    "arabic-letter-mark": "Acme\u061c Tools",
    "byte-order-mark": "\ufeffAcme Tools",
    "line-separator": "Acme\u2028Tools",
    "paragraph-separator": "Acme\u2029Tools",
    "private-use": "Acme \ue000 Tools",
    "tag-character": "Acme\U000e0041 Tools",
    "hangul-filler": "Acme \u3164 Tools",
    "c1-control": "Acme\x85Tools",
}
NOT_EMAILS = [
    "javascript:alert(1)",
    "mailto:dev@example.com",
    "dev@",
    "@example.com",
    "dev@localhost",
    "dev@@example.com",
    "dev team@example.com",
    "<dev@example.com>",
    "dev@exa_mple.com",
    "dev@-example.com",
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {"REGISTER_RATE_PER_MINUTE": "100000", "ALLOWED_RESOURCES": RESOURCE_A}
    options = StackOptions(verifier=False, issuer_env=env)
    with running_stack(tmp_path_factory.mktemp("attacks-metadata"), options) as running:
        yield running


def register(stack: Stack, http: httpx.Client, **members: Any) -> httpx.Response:
    body = {"redirect_uris": [GOOD_CB], "token_endpoint_auth_method": "none", **members}
    return http.post(f"{stack.issuer_url}/register", json=body)


@pytest.fixture(scope="module")
def registered(stack: Stack, http: httpx.Client) -> dict[str, Any]:
    """A registered client whose configuration the RFC 7592 tests try to spoil."""
    response = register(stack, http, client_name="Config target", contacts=["dev@example.com"])
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def update(
    http: httpx.Client, registered: dict[str, Any], **changes: Any
) -> tuple[httpx.Response, dict[str, Any]]:
    """PUT (RFC 7592 §2.2) the registration with ``changes``; the answer and the metadata as
    read back afterwards."""
    body = {k: v for k, v in registered.items() if k not in CREDENTIALS} | changes
    auth = {"Authorization": f"Bearer {registered['registration_access_token']}"}
    uri = registered["registration_client_uri"]
    answer = http.put(uri, json=body, headers=auth)
    current = http.get(uri, headers=auth)
    assert current.status_code == 200, current.text
    after: dict[str, Any] = current.json()
    return answer, after


def assert_refused(response: httpx.Response, error: str, *phrases: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == error, body
    for phrase in phrases:
        assert phrase in body["error_description"], body


@pytest.mark.parametrize("uri", NOT_URIS.values(), ids=NOT_URIS.keys())
def test_redirect_uris_that_are_not_uris_are_refused(
    stack: Stack, http: httpx.Client, registered: dict[str, Any], uri: str
) -> None:
    assert_refused(register(stack, http, redirect_uris=[uri]), "invalid_redirect_uri")
    answer, after = update(http, registered, redirect_uris=[GOOD_CB, uri])
    assert_refused(answer, "invalid_redirect_uri")
    assert after["redirect_uris"] == [GOOD_CB]


@pytest.mark.parametrize("member", URL_MEMBERS)
@pytest.mark.parametrize("uri", list(NOT_URIS.values())[:6], ids=list(NOT_URIS)[:6])
def test_metadata_urls_that_are_not_uris_are_refused(
    stack: Stack, http: httpx.Client, registered: dict[str, Any], member: str, uri: str
) -> None:
    assert_refused(register(stack, http, **{member: uri}), "invalid_client_metadata", member)
    answer, after = update(http, registered, **{member: uri})
    assert_refused(answer, "invalid_client_metadata", member)
    assert member not in after


def test_real_redirect_uris_still_register_and_receive_errors_verbatim(
    stack: Stack, http: httpx.Client
) -> None:
    response = register(stack, http, redirect_uris=STILL_URIS)
    assert response.status_code == 201, response.text
    client = response.json()
    assert client["redirect_uris"] == STILL_URIS
    for uri in STILL_URIS:
        # No PKCE: an error for a known good redirect URI, sent back to it with its query kept.
        params = {"response_type": "code", "client_id": client["client_id"], "redirect_uri": uri}
        answer = http.get(f"{stack.issuer_url}/authorize", params=params)
        assert answer.status_code == 302, answer.text
        location = answer.headers["location"]
        assert location.startswith(uri) and "error=invalid_request" in location, location


@pytest.mark.parametrize("name", HIDDEN.values(), ids=HIDDEN.keys())
def test_invisible_and_bidi_characters_in_client_text_are_refused(
    stack: Stack, http: httpx.Client, registered: dict[str, Any], name: str
) -> None:
    assert_refused(
        register(stack, http, client_name=name), "invalid_client_metadata", "client_name"
    )
    answer, after = update(http, registered, client_name=name)
    assert_refused(answer, "invalid_client_metadata", "client_name")
    assert after["client_name"] == "Config target"
    for member in ("software_id", "software_version"):
        refused = register(stack, http, **{member: name})
        assert_refused(refused, "invalid_client_metadata", member)


def test_consent_page_isolates_client_text(stack: Stack, http: httpx.Client) -> None:
    # A real right-to-left name is allowed; <bdi> keeps its direction from leaking into the
    # sentence around it (the "not verified" warning), HTML §4.5.23.
    name = "\u05d0\u05e4\u05dc\u05d9\u05e7\u05e6\u05d9\u05d4 Tools <b>"
    response = register(stack, http, client_name=name, redirect_uris=[GOOD_CB])
    assert response.status_code == 201, response.text
    client_id = response.json()["client_id"]
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": GOOD_CB,
        "code_challenge": new_pkce().challenge,
        "code_challenge_method": "S256",
        "resource": RESOURCE_A,
    }
    page = http.get(f"{stack.issuer_url}/authorize", params=params)
    assert page.status_code == 200, page.text
    isolated = [html.unescape(text) for text in re.findall(r"<bdi[^>]*>(.*?)</bdi>", page.text)]
    for value in (name, client_id, GOOD_CB, RESOURCE_A):
        assert value in isolated, (value, isolated)
    assert f'<strong><bdi dir="auto">{html.escape(name)}</bdi></strong>' in page.text


@pytest.mark.parametrize("contact", NOT_EMAILS)
def test_contacts_must_be_email_addresses(
    stack: Stack, http: httpx.Client, registered: dict[str, Any], contact: str
) -> None:
    assert_refused(register(stack, http, contacts=[contact]), "invalid_client_metadata", "contacts")
    answer, after = update(http, registered, contacts=["ops@example.com", contact])
    assert_refused(answer, "invalid_client_metadata", "contacts")
    assert after["contacts"] == ["dev@example.com"]
    ok = register(stack, http, contacts=["dev@example.com", "first.last+mcp@sub.example.co.uk"])
    assert ok.status_code == 201, ok.text


def _observable(response: httpx.Response) -> tuple[int, bytes, list[tuple[str, str]]]:
    """What a caller can compare between two answers (not the per-response id and date)."""
    skip = ("x-request-id", "date")
    headers = sorted((k, v) for k, v in response.headers.items() if k.lower() not in skip)
    return response.status_code, response.content, headers


def test_client_authentication_is_not_a_client_id_oracle(stack: Stack, http: httpx.Client) -> None:
    confidential = flows.register(http, stack.issuer_url)
    public = flows.register(http, stack.issuer_url, public=True)
    assert confidential.client_secret is not None
    unknown_id = "0" * 32
    basic = flows.RegisteredClient(confidential.client_id, "wrong", "")
    attempts: list[tuple[dict[str, str], dict[str, str]]] = [
        flows.RegisteredClient(unknown_id, "any-secret", "").auth(),  # unknown, Basic
        ({}, {"client_id": unknown_id}),  # unknown, public style
        ({}, {"client_id": unknown_id, "client_secret": "x"}),  # unknown, post
        basic.auth(),  # known, wrong secret
        ({}, {"client_id": confidential.client_id}),  # known confidential, no secret
        ({}, {"client_id": confidential.client_id, "client_secret": confidential.client_secret}),
        ({}, {"client_id": public.client_id, "client_secret": "x"}),  # public with a secret
    ]
    forms = {
        "/token": {"grant_type": "authorization_code", "code": "x", "code_verifier": "v" * 43},
        "/revoke": {"token": "x"},
        "/introspect": {"token": "x"},
    }
    for path, form in forms.items():
        answers = [
            http.post(f"{stack.issuer_url}{path}", data={**form, **fields}, headers=headers)
            for headers, fields in attempts
        ]
        first = answers[0]
        assert first.status_code == 401 and first.json()["error"] == "invalid_client"
        assert first.headers["www-authenticate"] == 'Basic realm="authgate"'
        for answer in answers[1:]:
            assert _observable(answer) == _observable(first), (path, answer.text, first.text)


@pytest.mark.parametrize("fault", ["no_id", "string_id", "bad_login"])
def test_an_unusable_github_account_is_access_denied_not_an_outage(
    stack: Stack, http: httpx.Client, fault: str
) -> None:
    client = flows.register(http, stack.issuer_url)
    target = [RESOURCE_A]
    browser = Browser(stack.issuer_url, issuer=http, github=http)
    try:
        stack.standin.set_faults(user=fault)
        result = browser.run(client.client_id, client.redirect_uri, new_pkce(), resources=target)
        stack.standin.set_faults(user="error500")
        outage = browser.run(client.client_id, client.redirect_uri, new_pkce(), resources=target)
    finally:
        stack.standin.set_faults()
    assert "code" not in result.params
    assert result.params["error"] == "access_denied", result.params
    assert "retry" not in result.params["error_description"].lower()
    assert "GitHub account" in result.params["error_description"]
    assert result.params["iss"] == stack.issuer_url
    # A real outage keeps its retryable answer.
    assert outage.params["error"] == "temporarily_unavailable", outage.params
