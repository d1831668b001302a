"""Pure decisions: audience, gateway-wide tokens, scopes, and header safety of claims."""

from __future__ import annotations

from typing import Any

import pytest

from authgate_shared.claims import GATEWAY_AUDIENCE
from authgate_shared.server.response_head import PREPARED_KEY
from authgate_shared.services import ServiceList
from authgate_verifier.decision import (
    GATEWAY_TOKEN_REFUSED,
    UNSAFE_CLAIMS,
    WRONG_AUDIENCE,
    VerifiedToken,
    accept_claims,
    decide,
)
from authgate_verifier.resources import BadForwardedRequest, ResourceResolver


def claims(**overrides: Any) -> dict[str, Any]:
    base = {
        "sub": "github|octocat",
        "github_username": "octocat",
        "client_id": "c1",
        "scope": "mcp:* files:read",
        "aud": ["https://mcp-a.example.com"],
        "jti": "grant1.n1",
        "exp": 2_000_000_000,
    }
    return {**base, **overrides}


def accepted(**overrides: Any) -> VerifiedToken:
    result = accept_claims(claims(**overrides), b"tok", forward_token=True)
    assert isinstance(result, VerifiedToken)
    return result


RESOLVER = ResourceResolver(
    services=ServiceList(frozenset()),
    bind_from_address=False,
    prefixes={"tools.example.com": ("/github",)},
    required_scopes={
        "mcp-s.example.com": frozenset({"files:write"}),
        "tools.example.com/github": frozenset({"gh"}),
    },
)


def resource(host: str, uri: str = "/") -> Any:
    return RESOLVER.resolve(b"", b"https", host.encode(), uri.encode())


def test_ok_headers_carry_identity_and_token() -> None:
    headers = dict(accepted().ok_start["headers"])
    assert headers[b"x-user-id"] == b"github|octocat"
    assert headers[b"x-user-name"] == b"octocat"
    assert headers[b"x-client-id"] == b"c1"
    assert headers[b"x-scopes"] == b"mcp:* files:read"
    assert headers[b"x-auth-token"] == b"tok"
    off = accept_claims(claims(), b"tok", forward_token=False)
    assert isinstance(off, VerifiedToken)
    assert b"x-auth-token" not in dict(off.ok_start["headers"])


@pytest.mark.parametrize("forward_token", [True, False])
def test_the_prepared_200_is_the_headers_list(forward_token: bool) -> None:
    # In-process tests read the headers list; a real server writes the prepared block.
    result = accept_claims(claims(), b"tok", forward_token=forward_token)
    assert isinstance(result, VerifiedToken)
    start = result.ok_start
    rendered = b"".join(b"%s: %s\r\n" % pair for pair in start["headers"])
    assert start[PREPARED_KEY].block == rendered
    assert start[PREPARED_KEY].content_length == 0


@pytest.mark.parametrize(
    "overrides",
    [
        {"github_username": "evil\r\nX-User-Id: admin"},
        {"sub": "github|evil\nX"},
        {"client_id": "c\x00"},
        {"scope": "mcp:*\r\nSet-Cookie: a=b"},
        {"github_username": "ünïcode"},
        {"github_username": ""},
        {"github_username": None},
        {"client_id": 7},
        # "," and ";" could split one forwarded identity into two (RFC 9110 §5.3).
        {"github_username": "octocat,admin"},
        {"sub": "github|octocat;admin"},
        {"client_id": "c1, c2"},
        {"github_username": "del\x7f"},
        {"sub": "github|unit\x1fsep"},
    ],
)
def test_unsafe_or_missing_identity_claims_are_refused(overrides: dict[str, Any]) -> None:
    assert accept_claims(claims(**overrides), b"tok", forward_token=True) is UNSAFE_CLAIMS


def test_audience_must_name_the_resource() -> None:
    token = accepted()
    assert decide(token, resource("mcp-a.example.com"), require_resource_tokens=True) is None
    assert decide(token, resource("mcp-b.example.com"), require_resource_tokens=False) is (
        WRONG_AUDIENCE
    )


def test_gateway_tokens_unless_resource_tokens_required() -> None:
    token = accepted(aud=[GATEWAY_AUDIENCE])
    assert decide(token, resource("mcp-b.example.com"), require_resource_tokens=False) is None
    assert decide(token, resource("mcp-b.example.com"), require_resource_tokens=True) is (
        GATEWAY_TOKEN_REFUSED
    )
    assert (
        decide(
            accepted(aud=GATEWAY_AUDIENCE), resource("x.example.com"), require_resource_tokens=False
        )
        is None
    )


def test_required_scopes_give_insufficient_scope() -> None:
    token = accepted(aud=[GATEWAY_AUDIENCE])
    denial = decide(token, resource("mcp-s.example.com"), require_resource_tokens=False)
    assert denial is not None
    assert (denial.status, denial.error) == (403, "insufficient_scope")
    assert "files:write" in denial.description
    ok = accepted(aud=[GATEWAY_AUDIENCE], scope="files:write")
    assert decide(ok, resource("mcp-s.example.com"), require_resource_tokens=False) is None


def test_path_prefix_is_part_of_the_resource() -> None:
    token = accepted(aud=["https://tools.example.com/github"], scope="gh")
    at_github = resource("tools.example.com", "/github/mcp?x=1")
    assert at_github.uri == "https://tools.example.com/github"
    assert decide(token, at_github, require_resource_tokens=True) is None
    at_root = resource("tools.example.com", "/jira/mcp")
    assert at_root.uri == "https://tools.example.com"
    assert decide(token, at_root, require_resource_tokens=True) is WRONG_AUDIENCE
    # A prefix not followed by "/", "?" or the end is routed to it by nginx and Traefik.
    with pytest.raises(BadForwardedRequest):
        resource("tools.example.com", "/githubx")
