"""RFC 8707 resource validation and canonicalisation (shared by /authorize and /token)."""

from __future__ import annotations

import pytest

from authgate_issuer.errors import InvalidTarget
from authgate_issuer.resources import validate_resources
from authgate_issuer.settings import IssuerSettings


def make(env: dict[str, str], **overrides: str) -> IssuerSettings:
    return IssuerSettings.from_env({**env, **overrides})


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        ("https://mcp.example.com/", "https://mcp.example.com"),
        ("HTTPS://MCP.Example.COM/files/", "https://mcp.example.com/files"),
        ("https://mcp.example.com:443/x", "https://mcp.example.com/x"),
        ("https://example.com", "https://example.com"),
        ("https://a.b.example.com:8443/mcp", "https://a.b.example.com:8443/mcp"),
    ],
)
def test_base_domain_resources_are_canonicalised(
    env: dict[str, str], value: str, canonical: str
) -> None:
    assert validate_resources([value], make(env)) == [canonical]


@pytest.mark.parametrize(
    "value",
    [
        "https://evil-example.com/mcp",
        "https://example.com.evil.net/mcp",
        "https://notexample.com",
        "http://mcp.example.com/mcp",  # https only
        "https://mcp.example.com/mcp#frag",
        "https://mcp.example.com/#",
        "mcp.example.com/mcp",
        "/relative",
        "urn:example:mcp",
        "https://user@mcp.example.com/",
        "https://mcp.example.com:99999/",
    ],
)
def test_foreign_or_malformed_resources_are_invalid_target(env: dict[str, str], value: str) -> None:
    with pytest.raises(InvalidTarget):
        validate_resources([value], make(env))


def test_duplicates_collapse_and_order_is_kept(env: dict[str, str]) -> None:
    values = ["https://b.example.com", "https://a.example.com/", "HTTPS://B.example.com/"]
    assert validate_resources(values, make(env)) == [
        "https://b.example.com",
        "https://a.example.com",
    ]
    assert validate_resources([], make(env)) == []


def test_one_bad_resource_fails_the_whole_request(env: dict[str, str]) -> None:
    with pytest.raises(InvalidTarget):
        validate_resources(["https://mcp.example.com", "https://evil.net"], make(env))


def test_allowed_resources_compare_canonical_forms(env: dict[str, str]) -> None:
    settings = make(env, ALLOWED_RESOURCES="HTTPS://Files.Example.com/mcp/, https://other.org")
    assert validate_resources(["https://files.example.com/mcp"], settings) == [
        "https://files.example.com/mcp"
    ]
    assert validate_resources(["https://OTHER.org/"], settings) == ["https://other.org"]
    # The explicit list replaces the BASE_DOMAIN default.
    with pytest.raises(InvalidTarget):
        validate_resources(["https://mcp.example.com"], settings)


def test_dev_login_without_base_domain_allows_loopback_only(env: dict[str, str]) -> None:
    dev = {k: v for k, v in env.items() if k != "BASE_DOMAIN"}
    settings = make(dev, AUTHGATE_DEV_LOGIN="true", ISSUER_URL="http://127.0.0.1:8000")
    assert validate_resources(["http://LOCALHOST:8080/mcp/"], settings) == [
        "http://localhost:8080/mcp"
    ]
    assert validate_resources(["https://127.0.0.1/mcp"], settings) == ["https://127.0.0.1/mcp"]
    with pytest.raises(InvalidTarget):
        validate_resources(["https://mcp.example.com"], settings)
    production = make(dev, ISSUER_URL="https://auth.example.org")
    with pytest.raises(InvalidTarget):
        validate_resources(["http://127.0.0.1:8080/mcp"], production)
