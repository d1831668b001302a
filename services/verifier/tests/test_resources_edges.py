"""The resource resolver's edges: nested prefixes, partial forwarded headers, blank and repeated
bindings, invalid hosts and ports, immutable cached resources and bounded memos."""

from __future__ import annotations

import dataclasses
from urllib.parse import urlencode

import pytest

from authgate_shared.services import ServiceList, parse_services
from authgate_verifier.resources import MAX_CACHED, BadForwardedRequest, ResourceResolver

SERVICES = parse_services(["https://mcp-a.example.com", "https://tools.example.com/github"])


def bound() -> ResourceResolver:
    return ResourceResolver(
        services=SERVICES, bind_from_address=True, prefixes={}, required_scopes={}
    )


def derived(services: ServiceList = SERVICES, **prefixes: tuple[str, ...]) -> ResourceResolver:
    return ResourceResolver(
        services=services,
        bind_from_address=False,
        prefixes={h.replace("_", "."): p for h, p in prefixes.items()},
        required_scopes={},
    )


def test_the_longest_prefix_wins_whatever_the_configured_order() -> None:
    for order in (("/a", "/a/b"), ("/a/b", "/a")):
        r = derived(ServiceList(frozenset()), tools_example_com=order)
        assert r.derive(b"https", b"tools.example.com", b"/a/b/mcp").uri == (
            "https://tools.example.com/a/b"
        )
        assert r.derive(b"https", b"tools.example.com", b"/a/x").uri == (
            "https://tools.example.com/a"
        )


@pytest.mark.parametrize(
    ("proto", "host"), [(None, b"mcp-a.example.com"), (b"https", None), (None, None)]
)
def test_either_forwarded_header_missing_is_400(proto: bytes | None, host: bytes | None) -> None:
    with pytest.raises(BadForwardedRequest, match="are required"):
        derived().derive(proto, host, b"/mcp")


@pytest.mark.parametrize(
    ("proto", "host", "message"),
    [
        (b"ftp", b"mcp-a.example.com", "Proto or X-Forwarded-Host is invalid"),
        (b"https", b"user@mcp-a.example.com", "Proto or X-Forwarded-Host is invalid"),
        (b"https", b"mcp-a.example.com/x", "Proto or X-Forwarded-Host is invalid"),
        # The host matches the pattern, but its port does not exist.
        (b"https", b"mcp-a.example.com:99999", "X-Forwarded-Host is invalid"),
    ],
)
def test_invalid_forwarded_proto_host_or_port_is_400(
    proto: bytes, host: bytes, message: str
) -> None:
    r = derived()
    for _ in range(2):  # the second answer comes from the memo
        with pytest.raises(BadForwardedRequest, match=message):
            r.derive(proto, host, b"/mcp")
    assert r.derive(b"https", b"mcp-a.example.com:443", b"/mcp").uri == "https://mcp-a.example.com"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        # A blank binding is a bad binding, not a missing one, and counts as one.
        (b"resource=", "not an absolute URI"),
        (b"resource=&" + urlencode({"resource": "https://mcp-a.example.com"}).encode(), "more"),
        (urlencode({"resource": "https://mcp-a.example.com"}).encode() + b"&resource=", "more"),
        (b"resource=https://mcp-a.example.com/\xff", "not valid"),
    ],
)
def test_blank_repeated_or_undecodable_bindings_are_400(raw: bytes, message: str) -> None:
    with pytest.raises(BadForwardedRequest, match=message):
        bound().resolve(raw, None, None, None)


def test_cached_resources_cannot_be_changed() -> None:
    # One Resource object answers every request for its service: it must be immutable.
    resource = derived().derive(b"https", b"mcp-a.example.com", b"/mcp")
    with pytest.raises(dataclasses.FrozenInstanceError):
        resource.uri = "https://evil.example"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        resource.required_scopes = frozenset()  # type: ignore[misc]


def test_memos_are_bounded_and_remember() -> None:
    """A flood of distinct hosts or bindings only evicts: each memo stays within MAX_CACHED, and
    values seen recently are still there (the memo is used, not cleared on every call)."""
    r = ResourceResolver(
        services=ServiceList(frozenset()), bind_from_address=True, prefixes={}, required_scopes={}
    )
    for i in range(MAX_CACHED * 2 + 10):
        host = f"h{i}.example.com".encode()
        r.derive(b"https", host, b"/")
        r.bound(urlencode({"resource": f"https://{host.decode()}"}).encode())
        assert len(r._hosts) <= MAX_CACHED
        assert len(r._bound) <= MAX_CACHED
        assert len(r._resources) <= MAX_CACHED
    assert len(r._hosts) >= 2 and len(r._bound) >= 2 and len(r._resources) >= 2
    first = r.derive(b"https", b"again.example.com", b"/")
    assert r.derive(b"https", b"again.example.com", b"/x") is first


def test_a_memoised_shared_host_cannot_be_changed() -> None:
    r = derived(ServiceList(frozenset()), tools_example_com=("/a",))
    r.derive(b"https", b"tools.example.com", b"/a/mcp")
    (host,) = r._hosts.values()
    with pytest.raises(dataclasses.FrozenInstanceError):
        host.prefixes = ()  # type: ignore[misc]
