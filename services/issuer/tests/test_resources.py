"""RFC 8707 resources: each names one configured service, whose canonical URI becomes ``aud``
(shared by /authorize and /token; the verifier maps URIs to services the same way)."""

from __future__ import annotations

import pytest

from authgate_issuer.oauth.errors import InvalidTarget
from authgate_issuer.oauth.resource_indicators import RESOURCE_REQUIRED, validate_resources
from authgate_issuer.settings import ConfigError, IssuerSettings

SERVICES = "https://mcp-a.example.com,https://tools.example.com/github,https://tools.example.com/jira"


def make(env: dict[str, str], **overrides: str) -> IssuerSettings:
    return IssuerSettings.from_env({**env, **overrides})


@pytest.mark.parametrize(
    ("value", "service"),
    [
        # MCP's canonical server URI with or without path, any case, trailing slash, port.
        ("https://mcp-a.example.com", "https://mcp-a.example.com"),
        ("https://MCP-A.Example.COM/", "https://mcp-a.example.com"),
        ("https://mcp-a.example.com/mcp", "https://mcp-a.example.com"),
        ("https://mcp-a.example.com:443/mcp/", "https://mcp-a.example.com"),
        ("HTTPS://mcp-a.example.com/mcp/sub", "https://mcp-a.example.com"),
        ("https://tools.example.com/github", "https://tools.example.com/github"),
        ("https://tools.example.com/github/", "https://tools.example.com/github"),
        ("https://tools.example.com/github/mcp", "https://tools.example.com/github"),
        ("https://tools.example.com/jira/mcp", "https://tools.example.com/jira"),
    ],
)
def test_each_form_names_its_service(env: dict[str, str], value: str, service: str) -> None:
    assert validate_resources([value], make(env, ALLOWED_RESOURCES=SERVICES)) == [service]


@pytest.mark.parametrize(
    "value",
    [
        "https://tools.example.com",  # the shared host is no service of its own
        "https://tools.example.com/githubx",  # a prefix is whole segments
        "https://tools.example.com/GITHUB/mcp",  # paths are case-sensitive
        "https://tools.example.com/%6Aira",
        "https://tools.example.com/github/../jira",
        "https://tools.example.com/github/%2e%2e/jira",
        "https://tools.example.com/jira;x",
        "https://tools.example.com/github/mcp?x=1",
        "http://mcp-a.example.com",  # another scheme is another resource
        "https://mcp-a.example.com:8443",
        "https://mcp-z.example.com",  # on BASE_DOMAIN, but not a configured service
        "https://evil-example.com/mcp",
        "https://mcp-a.example.com/mcp#frag",
        "mcp-a.example.com/mcp",
        "/relative",
        "urn:example:mcp",
        "https://user@mcp-a.example.com/",
        "https://mcp-a.example.com:99999/",
    ],
)
def test_other_or_ambiguous_resources_are_invalid_target(env: dict[str, str], value: str) -> None:
    with pytest.raises(InvalidTarget):
        validate_resources([value], make(env, ALLOWED_RESOURCES=SERVICES))


def test_a_wildcard_is_one_label_and_only_when_written(env: dict[str, str]) -> None:
    settings = make(env, ALLOWED_RESOURCES="https://*.example.com")
    assert validate_resources(["https://mcp-z.example.com/mcp"], settings) == [
        "https://mcp-z.example.com"
    ]
    for value in ("https://a.b.example.com", "https://example.com", "http://x.example.com"):
        with pytest.raises(InvalidTarget):
            validate_resources([value], settings)


def test_duplicates_collapse_and_order_is_kept(env: dict[str, str]) -> None:
    values = ["https://b.example.com", "https://a.example.com/", "HTTPS://B.example.com/mcp"]
    assert validate_resources(values, make(env)) == [
        "https://b.example.com",
        "https://a.example.com",
    ]


def test_one_bad_resource_fails_the_whole_request(env: dict[str, str]) -> None:
    with pytest.raises(InvalidTarget):
        validate_resources(["https://mcp.example.com", "https://evil.net"], make(env))


def test_a_resource_is_required_unless_explicitly_not(env: dict[str, str]) -> None:
    with pytest.raises(InvalidTarget) as caught:
        validate_resources([], make(env))
    assert caught.value.description == RESOURCE_REQUIRED
    lax = make(env, REQUIRE_RESOURCE_TOKENS="false")
    assert validate_resources([], lax) == []
    assert any("REQUIRE_RESOURCE_TOKENS=false" in w for w in lax.warnings)


def test_allowed_resources_is_required_and_checked_at_start_up(env: dict[str, str]) -> None:
    without = {k: v for k, v in env.items() if k != "ALLOWED_RESOURCES"}
    with pytest.raises(ConfigError) as caught:
        make(without)
    assert "ALLOWED_RESOURCES is required" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        make(env, ALLOWED_RESOURCES="https://ok.example.com,https://*.*.example.com,ftp://x")
    text = str(caught.value)
    assert "'https://*.*.example.com'" in text and "'ftp://x'" in text
    assert "'https://ok.example.com'" not in text
    # BASE_DOMAIN alone no longer allows every subdomain.
    assert make(without, REQUIRE_RESOURCE_TOKENS="false").services.service_for(
        "https://mcp.example.com"
    ) is None


def test_dev_login_without_services_allows_loopback_only(env: dict[str, str]) -> None:
    dev = {k: v for k, v in env.items() if k not in ("BASE_DOMAIN", "ALLOWED_RESOURCES")}
    settings = make(dev, AUTHGATE_DEV_LOGIN="true", ISSUER_URL="http://127.0.0.1:8000")
    assert validate_resources(["http://LOCALHOST:8080/mcp/"], settings) == [
        "http://localhost:8080/mcp"
    ]
    assert validate_resources(["https://127.0.0.1/mcp"], settings) == ["https://127.0.0.1/mcp"]
    with pytest.raises(InvalidTarget):
        validate_resources(["https://mcp.example.com"], settings)


@pytest.mark.parametrize(
    ("issuer_url", "ok"),
    [
        ("https://auth.example.com", True),
        ("http://127.0.0.1:8000", True),
        ("http://localhost:8000", True),
        ("http://[::1]:8000", True),
        ("http://auth.example.com", False),
        ("http://10.0.0.5", False),
    ],
)
def test_a_plain_http_issuer_url_is_refused_unless_loopback(
    env: dict[str, str], issuer_url: str, ok: bool
) -> None:
    if ok:
        assert make(env, ISSUER_URL=issuer_url).issuer_url == issuer_url
        return
    with pytest.raises(ConfigError) as caught:
        make(env, ISSUER_URL=issuer_url)
    assert "ISSUER_URL must be an https URL" in str(caught.value)
    insecure = make(env, ISSUER_URL=issuer_url, ALLOW_INSECURE_ISSUER_URL="true")
    assert insecure.issuer_url == issuer_url
    assert any("ALLOW_INSECURE_ISSUER_URL=true" in w for w in insecure.warnings)
