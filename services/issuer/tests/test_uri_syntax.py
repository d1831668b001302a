"""The RFC 3986 grammar check (``authgate_issuer.oauth.uri_syntax``), alone: syntax only, no policy."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authgate_issuer.oauth.uri_syntax import uri_syntax_problem

# RFC 3986 §1.1.2's examples, and the forms redirect URIs take.
VALID = [
    "ftp://ftp.is.co.za/rfc/rfc1808.txt",
    "http://www.ietf.org/rfc/rfc2396.txt",
    "ldap://[2001:db8::7]/c=GB?objectClass?one",
    "mailto:John.Doe@example.com",
    "news:comp.infosystems.www.servers.unix",
    "tel:+1-816-555-1212",
    "telnet://192.0.2.16:80/",
    "urn:oasis:names:specification:docbook:dtd:xml:4.1.2",
    "https://app.example.com/my%20app/cb",
    "https://app.example.com/cb?",
    "https://app.example.com/cb?x=%2F%3f&y=(a)*,;=:@/?",
    "https://app.example.com:/cb",
    "https://[::1]:8080/cb",
    "https://[v7.fe80::1+eth0]/cb",
    "https://user:pw@app.example.com/cb",
    "https://app.example.com/cb#",
    "https://app.example.com/cb#a/b?c",
    "com.example.app:/oauth2redirect",
    "cursor://anysphere.cursor-retrieval/oauth/user-github/callback",
    "HTTPS://APP.EXAMPLE.COM/~user/cb",
]


@pytest.mark.parametrize("uri", VALID)
def test_rfc_3986_uris_pass(uri: str) -> None:
    assert uri_syntax_problem(uri) is None


INVALID = [
    ("https://a.example/cb?a=%zz", "'%' at offset 23"),
    ("https://a.example/cb%2", "two hex digits"),
    ("https://a.example/cb%", "two hex digits"),
    ("https://a.example/%2g", "two hex digits"),
    ("https://a.example%/cb", "two hex digits"),
    ('https://a.example/cb?a="><script>', "query has the character '\"'"),
    ("https://a.example/<cb>", "path has the character '<'"),
    ("https://a.example/cb?{}", "query has the character '{'"),
    ("https://a.example/cb?a|b", "query has the character '|'"),
    ("https://a.example/cb?a^b", "query has the character '^'"),
    ("https://a.example/cb?a=`x`", "query has the character '`'"),
    ("https://a.example/cb[0]", "path has the character '['"),
    ("https://a.example/cb#x#y", "fragment has the character '#'"),
    ("https://a.example/cb#<x>", "fragment has the character '<'"),
    ("https://a\\b.example/cb", "host has the character '\\\\'"),
    ("https://a{b}.example/cb", "host has the character '{'"),
    ("https://a.example:8a/cb", "port is not a number"),
    ("https://a.example:a8/cb", "port is not a number"),  # the whole port, from its first digit
    ("https://a.example:80:90/cb", "port is not a number"),
    ("https://[::1]x/cb", "port is not a number"),
    ("https://[::1/cb", "IP literal"),
    ("https://[zz::1]/cb", "IP literal"),
    ("https://[1::2::3]/cb", "IPv6 literal"),
    ("https://[::1%25eth0]/cb", "IP literal"),  # RFC 6874 zone ids are not RFC 3986
    ("https://us[er@a.example/cb", "userinfo"),
    ("https://a.example/c b", "path has the character ' '"),
    ("https://a.example/cb\x7f", "path has the character '\\x7f'"),
    ("https://a.example/\u00e9", "path has the character"),
    ("/relative/cb", "absolute URI"),
    ("//a.example/cb", "absolute URI"),
    ("1http://a.example/cb", "absolute URI"),
    ("", "absolute URI"),
]


@pytest.mark.parametrize(("uri", "phrase"), INVALID)
def test_what_is_not_a_uri_is_refused_with_the_reason(uri: str, phrase: str) -> None:
    problem = uri_syntax_problem(uri)
    assert problem is not None and phrase in problem, problem


# Printable ASCII that no component of RFC 3986 admits literally (§2: gen-delims and
# sub-delims, unreserved and '%' are everything else).
NEVER_LITERAL = ' "<>\\^`{|}'


@given(st.sampled_from(NEVER_LITERAL), st.sampled_from(["path", "query", "fragment", "host"]))
def test_characters_outside_the_grammar_are_refused_in_every_component(
    char: str, component: str
) -> None:
    uri = {
        "path": f"https://a.example/x{char}y",
        "query": f"https://a.example/cb?x={char}",
        "fragment": f"https://a.example/cb#{char}",
        "host": f"https://a{char}b.example/cb",
    }[component]
    assert uri_syntax_problem(uri) is not None, uri


@given(st.integers(0, 0x1F).map(chr) | st.just("\x7f"), st.integers(0, 30))
def test_control_characters_are_refused_anywhere(char: str, where: int) -> None:
    uri = "https://a.example/cb?x=1"
    where = min(where, len(uri))
    assert uri_syntax_problem(uri[:where] + char + uri[where:]) is not None


@given(st.text(string.hexdigits, min_size=2, max_size=2))
def test_every_complete_escape_is_accepted(hex_pair: str) -> None:
    assert uri_syntax_problem(f"https://a.example/x%{hex_pair}?q=%{hex_pair}") is None
