"""Which resource a /verify call is judged for: bound by the auth address, or derived (fallback)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from authgate_shared.services import ServiceList, parse_services
from authgate_verifier.resources import BadForwardedRequest, ResourceResolver

SERVICES = parse_services(
    [
        "https://mcp-a.example.com",
        "https://tools.example.com/github",
        "https://tools.example.com/jira",
    ]
)
SCOPES = {"tools.example.com/jira": frozenset({"mcp:admin"}), "*": frozenset({"mcp:*"})}


def resolver(*, bound: bool, services: ServiceList = SERVICES) -> ResourceResolver:
    return ResourceResolver(
        services=services, bind_from_address=bound, prefixes={}, required_scopes=SCOPES
    )


def query(*values: str) -> bytes:
    return urlencode([("resource", v) for v in values]).encode()


# Bound: the auth address names the resource.


def test_the_bound_resource_wins_over_every_forwarded_header() -> None:
    r = resolver(bound=True)
    jira = r.resolve(query("https://tools.example.com/jira"), b"http", b"evil.example", b"/github")
    assert jira.uri == "https://tools.example.com/jira"
    assert jira.required_scopes == {"mcp:admin"}
    assert jira.metadata_url == (
        "https://tools.example.com/.well-known/oauth-protected-resource/jira"
    )
    # No forwarded headers at all: the address alone decides.
    assert r.resolve(query("HTTPS://MCP-A.example.com/"), None, None, None).uri == (
        "https://mcp-a.example.com"
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "names no resource"),
        (b"x=1", "names no resource"),
        (query("https://mcp-a.example.com", "https://tools.example.com/jira"), "more than one"),
        # A percent-encoded name is the same parameter (parsed, not string-matched).
        (query("https://mcp-a.example.com") + b"&%72esource=https://x", "more than one"),
        (query("mcp-a.example.com"), "not an absolute URI"),
        (query("ftp://mcp-a.example.com"), "not a canonical"),
        (query("https://tools.example.com/jira/../github"), "not a canonical"),
        (query("https://mcp-a.example.com?x=1"), "not a canonical"),
        (query("https://mcp-z.example.com"), "not listed in ALLOWED_RESOURCES"),
        (query("https://tools.example.com"), "not listed in ALLOWED_RESOURCES"),
        (b"resource=%ff", "not an absolute URI"),
    ],
)
def test_a_bad_or_missing_binding_is_400(raw: bytes, message: str) -> None:
    r = resolver(bound=True)
    for _ in range(2):  # the second answer comes from the memo and must be the same
        with pytest.raises(BadForwardedRequest, match=message):
            r.resolve(raw, b"https", b"mcp-a.example.com", b"/mcp")


def test_without_a_service_list_any_canonical_binding_is_taken() -> None:
    r = resolver(bound=True, services=ServiceList(frozenset()))
    assert r.resolve(query("https://mcp-z.example.com/"), None, None, None).uri == (
        "https://mcp-z.example.com"
    )


# Derived (RESOURCE_SOURCE=forwarded-headers): the query is ignored, the path must be unambiguous.


def derive(path: str, host: str = "tools.example.com", proto: str = "https") -> str:
    r = resolver(bound=False)
    # The query names jira: ignored, since Caddy's `uri /verify` appends the client's query.
    return r.resolve(
        query("https://tools.example.com/jira"), proto.encode(), host.encode(), path.encode()
    ).uri


@pytest.mark.parametrize(
    ("path", "uri"),
    [
        ("/github", "https://tools.example.com/github"),
        ("/github/", "https://tools.example.com/github"),
        ("/github/mcp", "https://tools.example.com/github"),
        ("/github?x=/jira", "https://tools.example.com/github"),
        ("/jira/mcp?x=%2e%2e", "https://tools.example.com/jira"),
    ],
)
def test_derived_prefixes(path: str, uri: str) -> None:
    assert derive(path) == uri


@pytest.mark.parametrize(
    "path",
    [
        "/%6Aira/x",
        "/j%69ra/x",
        "/jira;x",
        "/jira;/x",
        "/jiraX",
        "/JIRA/x",
        "/Jira",
        "/github/../jira/mcp",
        "/github/%2e%2e/jira/mcp",
        "/github/x%2f..%2f..%2fjira",
        "/github/..%5cjira",
        "/github/..\\jira",
        "/github/./x",
        "/github//x",
        "//jira/x",
        "/github/..",
        "/github/.",
        "/github/\x7f",
        "/github/ x",
        "http://tools.example.com/jira/x",
        "*",
    ],
)
def test_derived_ambiguous_paths_are_400(path: str) -> None:
    with pytest.raises(BadForwardedRequest, match="ambiguous"):
        derive(path)


def test_derived_scheme_and_port_come_from_the_service_list() -> None:
    # TLS terminated before the proxy: it forwards http, the service is https.
    assert derive("/mcp", host="mcp-a.example.com", proto="http") == "https://mcp-a.example.com"
    assert derive("/github/mcp", host="tools.example.com:443") == "https://tools.example.com/github"
    with pytest.raises(BadForwardedRequest, match="not for a service"):
        derive("/mcp", host="mcp-z.example.com")
    # The shared host's root is not a service.
    with pytest.raises(BadForwardedRequest, match="not for a service"):
        derive("/other")


def test_metadata_path_names_the_prefixed_resource_or_404() -> None:
    r = resolver(bound=False)
    doc = r.for_metadata_path(b"", b"http", b"tools.example.com", "/jira")
    assert doc.uri == "https://tools.example.com/jira"
    with pytest.raises(LookupError):
        r.for_metadata_path(b"", b"https", b"mcp-a.example.com", "/jira")
    bound = r.for_metadata_path(query("https://tools.example.com/github"), None, None, "/github")
    assert bound.uri == "https://tools.example.com/github"
