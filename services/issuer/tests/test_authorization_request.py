"""Pure validation of /authorize parameters: which errors are pages, which are redirects."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from authgate_issuer.oauth.authorization_request import (
    PageError,
    RedirectError,
    error_redirect_url,
    parse,
    redirect_url,
    requested_client_id,
    validate,
)
from authgate_issuer.oauth.errors import AccessDenied
from authgate_issuer.settings import IssuerSettings
from authgate_issuer.store.clients import ClientRecord

CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"  # RFC 7636 Appendix B
CLIENT = ClientRecord(
    client_id="c1",
    metadata={"redirect_uris": ["https://app.example.org/cb"], "client_name": "App"},
    client_id_issued_at=0,
    expires_at=0,
)


def request(client: ClientRecord | None = CLIENT, settings: IssuerSettings | None = None, **kw):
    params = {
        "response_type": "code",
        "client_id": "c1",
        "redirect_uri": "https://app.example.org/cb",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        "state": "s1",
        "resource": "https://mcp-a.example.com",
    }
    params.update(kw)
    query = urlencode([(k, v) for k, v in params.items() if v is not None], doseq=True)
    parsed = parse(query)
    requested_client_id(parsed)
    assert settings is not None
    return validate(parsed, client, settings)


def test_a_valid_request(settings: IssuerSettings) -> None:
    auth = request(settings=settings, resource=["https://MCP.example.com/"])
    assert auth.redirect_uri == "https://app.example.org/cb" and auth.redirect_uri_in_request
    assert (auth.scope, auth.state, auth.code_challenge) == ("mcp:*", "s1", CHALLENGE)
    assert auth.resources == ["https://mcp.example.com"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"client_id": None},
        {"redirect_uri": "https://evil.example.net/cb"},
        {"redirect_uri": "https://app.example.org/cb/../evil"},
        {"redirect_uri": "https://app.example.org/cb?x=1"},
    ],
)
def test_client_and_redirect_errors_are_pages(settings: IssuerSettings, overrides) -> None:
    with pytest.raises(PageError):
        request(settings=settings, **overrides)


def test_unknown_client_is_a_page(settings: IssuerSettings) -> None:
    with pytest.raises(PageError):
        request(client=None, settings=settings)


def test_repeated_parameters_are_pages(settings: IssuerSettings) -> None:
    with pytest.raises(PageError, match="repeated"):
        parse("client_id=c1&client_id=c2")
    with pytest.raises(PageError):
        parse("client_id=c1&state=a&state=b")
    # resource may repeat (RFC 8707 §2); empty parameters are absent (OAuth 2.1 §3.1)
    assert parse("resource=a&resource=b&state=&state=x").all("resource") == ["a", "b"]


def test_redirect_uri_may_be_omitted_only_with_one_registered(settings: IssuerSettings) -> None:
    auth = request(settings=settings, redirect_uri=None)
    assert auth.redirect_uri == "https://app.example.org/cb" and not auth.redirect_uri_in_request
    two = ClientRecord(
        "c1",
        {"redirect_uris": ["https://app.example.org/cb", "https://app.example.org/cb2"]},
        0,
        0,
    )
    with pytest.raises(PageError):
        request(client=two, settings=settings, redirect_uri=None)
    assert request(client=two, settings=settings, redirect_uri="https://app.example.org/cb2")


def test_an_omitted_redirect_uri_never_selects_a_stored_invalid_one(
    settings: IssuerSettings,
) -> None:
    # Registered before URIs were parsed: markup that must never reach a Location header.
    legacy = ClientRecord(
        "c1", {"redirect_uris": ['https://good.example/cb?a="><script>x</script>']}, 0, 0
    )
    with pytest.raises(PageError, match="not a valid URI"):
        request(client=legacy, settings=settings, redirect_uri=None)


def test_loopback_redirects_match_on_any_port(settings: IssuerSettings) -> None:
    native = ClientRecord("c1", {"redirect_uris": ["http://127.0.0.1/callback"]}, 0, 0)
    auth = request(client=native, settings=settings, redirect_uri="http://127.0.0.1:53124/callback")
    assert auth.redirect_uri == "http://127.0.0.1:53124/callback"
    with pytest.raises(PageError):
        request(client=native, settings=settings, redirect_uri="http://127.0.0.1:53124/other")
    with pytest.raises(PageError):
        request(
            client=native, settings=settings, redirect_uri="http://localhost.evil.net:1/callback"
        )


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"response_type": None}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": "s256"}, "invalid_request"),
        ({"code_challenge": CHALLENGE[:-1]}, "invalid_request"),
        ({"code_challenge": CHALLENGE + "A"}, "invalid_request"),
        ({"code_challenge": CHALLENGE[:-1] + "="}, "invalid_request"),
        ({"code_challenge": CHALLENGE[:-1] + "."}, "invalid_request"),
        ({"scope": "admin"}, "invalid_scope"),
        ({"scope": "mcp:* admin"}, "invalid_scope"),
        ({"resource": "https://evil.net/mcp"}, "invalid_target"),
        ({"resource": "https://mcp.example.com/#f"}, "invalid_target"),
    ],
)
def test_later_errors_redirect_with_state(settings: IssuerSettings, overrides, error) -> None:
    with pytest.raises(RedirectError) as caught:
        request(settings=settings, **overrides)
    assert caught.value.error.code == error
    assert caught.value.redirect_uri == "https://app.example.org/cb"
    assert caught.value.state == "s1"


def test_client_without_authorization_code_grant(settings: IssuerSettings) -> None:
    machine = ClientRecord(
        "c1",
        {"redirect_uris": ["https://app.example.org/cb"], "grant_types": ["client_credentials"]},
        0,
        0,
    )
    with pytest.raises(RedirectError) as caught:
        request(client=machine, settings=settings)
    assert caught.value.error.code == "unauthorized_client"


def test_scope_defaults_and_deduplicates(settings: IssuerSettings) -> None:
    assert request(settings=settings, scope="").scope == "mcp:*"
    assert request(settings=settings, scope="mcp:*  mcp:*").scope == "mcp:*"


def test_redirect_urls_keep_the_clients_query(settings: IssuerSettings) -> None:
    url = redirect_url("https://app.example.org/cb?tenant=a%20b&x", {"code": "c&d", "state": None})
    assert url == "https://app.example.org/cb?tenant=a%20b&x&code=c%26d"
    assert redirect_url("com.example.app:/cb", {"code": "1"}) == "com.example.app:/cb?code=1"
    error = error_redirect_url("https://a.example/cb?", "st", AccessDenied("no"), "https://iss")
    assert error.startswith("https://a.example/cb?error=access_denied&")
    assert parse_qs(urlsplit(error).query) == {
        "error": ["access_denied"],
        "error_description": ["no"],
        "state": ["st"],
        "iss": ["https://iss"],
    }
