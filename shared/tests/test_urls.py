from __future__ import annotations

import pytest

from authgate_shared.urls import canonical_uri, host_of


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTPS://MCP.Example.com/", "https://mcp.example.com"),
        ("https://mcp.example.com:443/x/", "https://mcp.example.com/x"),
        ("https://mcp.example.com:8443", "https://mcp.example.com:8443"),
        ("http://[::1]:80/", "http://[::1]"),
    ],
)
def test_canonical_forms(raw: str, expected: str) -> None:
    assert canonical_uri(raw) == expected


@pytest.mark.parametrize(
    "raw", ["/relative", "https://x.example/#frag", "https://u@x.example", "mcp"]
)
def test_rejected(raw: str) -> None:
    with pytest.raises(ValueError, match=r"must|userinfo"):
        canonical_uri(raw)


def test_host_of() -> None:
    assert host_of("https://A.example.com:1/x") == "a.example.com"
    assert host_of("nothing") == ""


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("https:///no-host", "absolute URI with a host"),  # a scheme, no host
        ("//mcp.example.com/x", "absolute URI with a host"),  # a host, no scheme
        ("https://mcp.example.com:99999", "invalid port"),
        ("https://mcp.example.com:abc", "invalid port"),
    ],
)
def test_each_part_is_required_and_the_port_valid(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        canonical_uri(raw)
