"""Redirect URI limits to the character, and the forbidden schemes one by one.

Each limit is tested on both sides (the longest accepted, one more refused), so moving it by one
in either direction fails a test; each forbidden scheme is tried while an operator lists it as an
app scheme (``REDIRECT_URI_APP_SCHEMES``), which must not let it through.
"""

from __future__ import annotations

import pytest

from authgate_issuer.oauth.errors import InvalidRedirectUri
from authgate_issuer.oauth.redirect_uris import (
    FORBIDDEN_SCHEMES,
    MAX_URI_LENGTH,
    validate_redirect_uri,
)
from authgate_issuer.settings import DEFAULT_APP_SCHEMES


def refusal(uri: str, app_schemes: tuple[str, ...] = DEFAULT_APP_SCHEMES) -> str:
    with pytest.raises(InvalidRedirectUri) as caught:
        validate_redirect_uri(uri, app_schemes)
    return caught.value.description


def accepted(uri: str) -> bool:
    return validate_redirect_uri(uri, DEFAULT_APP_SCHEMES) == uri


def test_uri_length_limit() -> None:
    assert MAX_URI_LENGTH == 2000
    base = "https://app.example.com/"
    longest = base + "x" * (2000 - len(base))
    assert len(longest) == 2000 and accepted(longest)
    assert "longer than 2000" in refusal(longest + "x")


def host_of_length(length: int) -> str:
    """A DNS name of ``length`` characters, made of 63-character labels (the longest allowed)."""
    labels = []
    while sum(map(len, labels)) + len(labels) < length:
        room = length - sum(map(len, labels)) - len(labels)
        labels.append("a" * min(63, room))
    host = ".".join(labels)
    assert len(host) == length and all(1 <= len(label) <= 63 for label in labels)
    return host


def test_host_name_length_limit() -> None:
    # RFC 1035 §2.3.4: 253 characters in the textual form (255 octets on the wire).
    assert accepted(f"https://{host_of_length(253)}/cb")
    assert "invalid host name" in refusal(f"https://{host_of_length(254)}/cb")


def test_label_length_limit() -> None:
    # RFC 1035 §2.3.4: labels of 63 octets or less.
    assert accepted(f"https://{'b' * 63}.example.com/cb")
    assert "invalid host name" in refusal(f"https://{'b' * 64}.example.com/cb")
    assert accepted(f"http://127.0.0.1:8765/{'c' * 100}")  # the path has no such limit


@pytest.mark.parametrize("scheme", sorted(FORBIDDEN_SCHEMES))
def test_forbidden_schemes_stay_forbidden_when_configured(scheme: str) -> None:
    configured = (*DEFAULT_APP_SCHEMES, scheme)
    for uri in (f"{scheme}://app.example.com/cb", f"{scheme}:/cb", f"{scheme.upper()}:x"):
        assert f"forbidden scheme '{scheme}:'" in refusal(uri, configured)


def test_the_forbidden_list_is_complete() -> None:
    # Each of these runs script, reads local state or leaves the browser somewhere the client
    # cannot observe; dropping one from the list must fail a test.
    assert {
        "javascript", "data", "file", "vbscript", "about", "blob", "ftp", "ws", "wss",
        "filesystem", "view-source", "mailto", "tel", "sms", "chrome", "resource", "jar",
        "intent",
    } <= FORBIDDEN_SCHEMES  # fmt: skip


def test_a_configured_ordinary_scheme_is_accepted() -> None:
    # The control for the test above: configuration does let a harmless dot-less scheme in.
    assert validate_redirect_uri("myapp://cb/x", ("myapp",)) == "myapp://cb/x"


def test_a_refused_uri_is_shown_whole_up_to_100_characters() -> None:
    # The error names the URI, cut after 100 characters so a 2000-character one is not echoed.
    assert "redirect URI 'myapp:/x' uses the scheme" in refusal("myapp:/x")
    short = "myapp://" + "x" * 92
    assert len(short) == 100
    assert f"redirect URI {short!r} uses the scheme" in refusal(short)
    shown = refusal(short + "z")
    assert f"redirect URI {short + '...'!r} uses the scheme" in shown and "z" not in shown
