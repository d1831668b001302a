"""Redirect URI validation (registration) and matching (authorization requests)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authgate_issuer.oauth.errors import InvalidRedirectUri
from authgate_issuer.oauth.redirect_uris import redirect_uri_matches, validate_redirect_uri
from authgate_issuer.settings import DEFAULT_APP_SCHEMES

APP_SCHEMES = DEFAULT_APP_SCHEMES

ACCEPTED = [
    "https://app.example.com/callback",
    "https://app.example.com:8443/cb?x=1",
    "https://192.0.2.10/cb",
    "https://[2001:db8::1]/cb",
    "http://127.0.0.1/callback",
    "http://127.0.0.1:33418/callback",
    "http://[::1]:8080/cb",
    "http://localhost:6274/oauth/callback",
    "http://LOCALHOST:6274/cb",
    "com.example.app:/oauth2redirect",
    "com.example.app://callback",
    "cursor://anysphere.cursor-retrieval/oauth/user-github/callback",
    "vscode://vscode.github-authentication/did-authenticate",
    "vscode-insiders://vscode.github-authentication/did-authenticate",
    "claude://claude.ai/oauth/callback",
    # RFC 3986 escapes, sub-delims and empty components stay acceptable.
    "https://app.example.com/my%20app/cb",
    "https://app.example.com/cb?",
    "https://app.example.com/cb?x=%2F%3f&y=(a)*,;=:@/?",
    "https://[2001:db8::1]:8443/cb",
    "http://[::1]/cb",
    "http://127.0.0.1:1/cb",
    "http://127.0.0.1:65535/cb",
    "com.example.app:/cb?x=%41",
]


@pytest.mark.parametrize("uri", ACCEPTED)
def test_accepted_uris_are_returned_unchanged(uri: str) -> None:
    assert validate_redirect_uri(uri, APP_SCHEMES) == uri


REFUSED = [
    ("https://good.example@evil.example/cb", "userinfo"),
    ("https://good.example:443@evil.example/cb", "userinfo"),
    ("https://user:pass@app.example.com/cb", "userinfo"),
    ("https://good.example%40evil.example@x/cb", "userinfo"),
    ("http://localhost.evil.example/cb", "non-loopback"),
    ("http://127.0.0.1.nip.io/cb", "non-loopback"),
    ("http://localhost@evil.example/cb", "userinfo"),
    ("http://example.com/cb", "non-loopback"),
    ("http://10.0.0.1/cb", "non-loopback"),
    ("http://0.0.0.0/cb", "non-loopback"),
    ("http://127.1/cb", "non-loopback"),
    ("http://2130706433/cb", "non-loopback"),
    ("http://[::ffff:127.0.0.1]/cb", "non-loopback"),
    ("http://localhost./cb", "host name"),
    ("javascript:alert(1)", "forbidden scheme"),
    ("JavaScript:alert(1)", "forbidden scheme"),
    ("data:text/html,<script>alert(1)</script>", "forbidden scheme"),
    ("data:text/html;base64,PHNjcmlwdD4=", "forbidden scheme"),
    ("file:///etc/passwd", "forbidden scheme"),
    ("vbscript:msgbox(1)", "forbidden scheme"),
    ("about:blank", "forbidden scheme"),
    ("blob:https://app.example.com/uuid", "forbidden scheme"),
    ("ftp://files.example.com/cb", "forbidden scheme"),
    ("https://app.example.com/cb#frag", "fragment"),
    ("https://app.example.com/cb#", "fragment"),
    ("com.example.app:/cb#x", "fragment"),
    ("myapp:/callback", "not allowed"),
    ("myapp://callback", "not allowed"),
    ("localhost:8080/cb", "not allowed"),
    ("127.0.0.1:8080/cb", "absolute URI"),
    ("/relative/cb", "absolute URI"),
    ("//app.example.com/cb", "absolute URI"),
    ("https:///cb", "host"),
    ("https://", "host"),
    ("https://app.example.com:0/cb", "port"),
    ("https://app.example.com:65536/cb", "port"),
    ("https://app.example.com:abc/cb", "port"),
    ("https://app.example.com:/cb", "port"),
    ("https://[::1/cb", "valid URI"),
    ("https://[zz::1]/cb", "URI"),
    ("https://app.example.com/c b", "ASCII"),
    ("https://app.example.com/cb\n", "ASCII"),
    ("https://app.example.com\\@evil.example/cb", "ASCII"),
    ("https://app.exämple.com/cb", "ASCII"),
    ("https://app_1.example.com/cb", "host name"),
    ("https://-bad.example.com/cb", "host name"),
    ("https://app.example.com%2f.evil.example/cb", "host or port"),
    ("com.example.app:", "path"),
    ("com.example.app:/", "path"),
    ("", "empty"),
    ("https://a.example/" + "x" * 2000, "longer"),
    # Not RFC 3986 URIs (Appendix A), each with the component and character named.
    ('https://good.example/cb?a="><script>alert(1)</script>', "query has the character '\"'"),
    ("https://good.example/cb?a={}|^", "query has the character '{'"),
    ("https://good.example/cb?a=`id`", "query has the character '`'"),
    ("https://good.example/<cb>", "path has the character '<'"),
    ("https://good.example/cb[0]", "path has the character '['"),
    ("http://127.0.0.1:8765/cb?a|b", "query has the character '|'"),
    ("cursor://anysphere.cursor-retrieval/cb?<x>", "query has the character '<'"),
    ("com.example.app:/c^b", "path has the character '^'"),
    ("https://good.example/cb?a=%zz", "two hex digits"),
    ("https://good.example/cb%2", "two hex digits"),
    ("https://good.example/cb?a=%", "two hex digits"),
    ("https://[::1%25eth0]/cb", "IP literal"),
    ("https://[v1.x]/cb", "IPv6 literal"),
    ("https://[1::2::3]/cb", "IPv6 literal"),
    ("https://app.example.com:8a/cb", "port"),
    ("https://app.example.com/cb\x7f", "ASCII"),
    ("data:text/html,<b>", "forbidden scheme"),
]


@pytest.mark.parametrize(("uri", "reason"), REFUSED)
def test_refused_uris_say_why(uri: str, reason: str) -> None:
    with pytest.raises(InvalidRedirectUri) as caught:
        validate_redirect_uri(uri, APP_SCHEMES)
    assert caught.value.code == "invalid_redirect_uri"
    assert reason in caught.value.description


@pytest.mark.parametrize("char", [chr(c) for c in range(0x20)] + ["\x7f"])
def test_control_characters_are_refused_everywhere(char: str) -> None:
    for uri in (f"https://app.example.com/c{char}b", f"http://127.0.0.1:1/cb?x={char}"):
        with pytest.raises(InvalidRedirectUri):
            validate_redirect_uri(uri, APP_SCHEMES)


def test_a_stored_non_uri_never_matches() -> None:
    # Records registered before the RFC 3986 check: exact equality is not enough to redirect.
    stored = 'https://good.example/cb?a="><script>'
    assert not redirect_uri_matches([stored], stored)


def test_dotless_schemes_come_only_from_configuration() -> None:
    with pytest.raises(InvalidRedirectUri):
        validate_redirect_uri("cursor://anysphere.cursor-retrieval/cb", ())
    assert validate_redirect_uri("myapp:/cb", ("myapp",)) == "myapp:/cb"


def test_forbidden_schemes_stay_forbidden_even_when_configured() -> None:
    with pytest.raises(InvalidRedirectUri):
        validate_redirect_uri("javascript:alert(1)", ("javascript",))


@pytest.mark.parametrize(
    ("registered", "requested", "expected"),
    [
        (["https://app.example.com/cb"], "https://app.example.com/cb", True),
        (["https://app.example.com/cb"], "https://app.example.com/cb/", False),
        (["https://app.example.com/cb"], "https://app.example.com:443/cb", False),
        (["https://app.example.com/cb"], "https://APP.example.com/cb", False),
        (["https://app.example.com/cb"], "https://app.example.com/cb?x=1", False),
        (["https://127.0.0.1/cb"], "https://127.0.0.1:9000/cb", False),
        (["com.example.app:/cb"], "com.example.app:/cb", True),
        (["com.example.app:/cb"], "com.example.app:/cb2", False),
        # RFC 8252 §7.3: any port on loopback http, everything else identical.
        (["http://127.0.0.1/cb"], "http://127.0.0.1:51004/cb", True),
        (["http://127.0.0.1:3000/cb"], "http://127.0.0.1:51004/cb", True),
        (["http://[::1]/cb"], "http://[::1]:51004/cb", True),
        (["http://localhost:6274/cb"], "http://localhost:7000/cb", True),
        (["http://127.0.0.1/cb"], "http://127.0.0.1:51004/other", False),
        (["http://127.0.0.1/cb?a=1"], "http://127.0.0.1:51004/cb?a=2", False),
        (["http://127.0.0.1/cb"], "http://localhost:51004/cb", False),
        (["http://127.0.0.1/cb"], "http://[::1]:51004/cb", False),
        (["http://127.0.0.1/cb"], "http://127.0.0.1:51004@evil.example/cb", False),
        (["http://127.0.0.1/cb"], "http://127.0.0.1:51004/cb#x", False),
        (["http://127.0.0.1/cb"], "http://127.0.0.1:99999/cb", False),
        (["http://localhost/cb"], "http://localhost.evil.example:80/cb", False),
        (["http://127.0.0.1/cb"], "https://127.0.0.1:51004/cb", False),
        ([], "http://127.0.0.1/cb", False),
    ],
)
def test_redirect_uri_matches(registered: list[str], requested: str, expected: bool) -> None:
    assert redirect_uri_matches(registered, requested) is expected


@given(st.text(max_size=80))
def test_matching_never_accepts_an_unregistered_non_loopback_uri(requested: str) -> None:
    registered = ["https://app.example.com/cb", "http://127.0.0.1/cb"]
    if redirect_uri_matches(registered, requested):
        assert requested == registered[0] or requested.lower().startswith("http://127.0.0.1")
