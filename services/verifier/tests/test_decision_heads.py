"""The prepared 200s of a verified token (with and without X-Auth-Token), group claim shapes,
and scopes beyond the required ones."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from authgate_shared.services import ServiceList
from authgate_verifier.decision import UNSAFE_CLAIMS, VerifiedToken, accept_claims, decide
from authgate_verifier.resources import ResourceResolver


def claims(**overrides: Any) -> dict[str, Any]:
    base = {
        "sub": "github|octocat",
        "github_username": "octocat",
        "client_id": "c1",
        "scope": "mcp:* files:write",
        "aud": ["https://mcp-s.example.com"],
        "jti": "grant1.n1",
        "exp": 2_000_000_000,
        "groups": ["acme", "acme/ops"],
    }
    return {**base, **overrides}


def accepted(**kwargs: Any) -> VerifiedToken:
    result = accept_claims(claims(), b"tok", **kwargs)
    assert isinstance(result, VerifiedToken)
    return result


def headers(start: dict[str, Any]) -> dict[bytes, bytes]:
    return dict(start["headers"])


def test_only_the_heads_asked_for_are_prepared() -> None:
    # Forwarding by default, nothing else asked: one head, with the token, serves every case.
    forwarding = accepted(forward_token=True)
    assert headers(forwarding.ok_start)[b"x-auth-token"] == b"tok"
    assert forwarding.ok_start_with_token is forwarding.ok_start
    assert forwarding.ok_start_plain is forwarding.ok_start
    # Not forwarding by default, nothing else asked: one head, without the token.
    plain = accepted(forward_token=False)
    assert b"x-auth-token" not in headers(plain.ok_start)
    assert plain.ok_start_with_token is plain.ok_start
    assert plain.ok_start_plain is plain.ok_start


def test_a_plain_head_asked_for_never_carries_the_token() -> None:
    # A service whose policy says forward_token: false, on a verifier that forwards by default.
    token = accepted(forward_token=True, plain_head=True)
    assert headers(token.ok_start)[b"x-auth-token"] == b"tok"
    assert b"x-auth-token" not in headers(token.ok_start_plain)
    assert headers(token.ok_start_plain)[b"x-user-id"] == b"github|octocat"


def test_a_token_head_asked_for_carries_it() -> None:
    # A service whose policy says forward_token: true, on a verifier that does not by default.
    token = accepted(forward_token=False, token_head=True)
    assert b"x-auth-token" not in headers(token.ok_start)
    assert headers(token.ok_start_with_token)[b"x-auth-token"] == b"tok"
    assert token.ok_start_plain is token.ok_start


def test_verified_tokens_cannot_be_changed() -> None:
    # One VerifiedToken answers every request with the same token (the token cache).
    token = accepted(forward_token=False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        token.scopes = frozenset({"mcp:admin"})  # type: ignore[misc]


@pytest.mark.parametrize("groups", ["acme", {"acme": True}, [7], ["acme", None], ["a,b"], 7])
def test_groups_must_be_a_list_of_safe_strings(groups: Any) -> None:
    # "acme" as a string would be joined letter by letter into "a,c,m,e".
    assert accept_claims(claims(groups=groups), b"tok", forward_token=False) is UNSAFE_CLAIMS


def test_groups_are_joined_and_lower_cased() -> None:
    token = accept_claims(claims(groups=["Acme", "acme/Ops"]), b"tok", forward_token=False)
    assert isinstance(token, VerifiedToken)
    assert headers(token.ok_start)[b"x-user-groups"] == b"Acme,acme/Ops"
    assert token.groups == {"acme", "acme/ops"}
    without = {k: v for k, v in claims().items() if k != "groups"}
    for bare in (claims(groups=[]), without):  # the header is sent all the same, empty
        token = accept_claims(bare, b"tok", forward_token=False)
        assert isinstance(token, VerifiedToken) and headers(token.ok_start)[b"x-user-groups"] == b""


def test_more_scopes_than_required_pass() -> None:
    resolver = ResourceResolver(
        services=ServiceList(frozenset()),
        bind_from_address=False,
        prefixes={},
        required_scopes={"mcp-s.example.com": frozenset({"files:write"})},
    )
    resource = resolver.derive(b"https", b"mcp-s.example.com", b"/")
    token = accepted(forward_token=False)  # mcp:* files:write
    assert decide(token, resource, require_resource_tokens=True) is None
    short = accept_claims(claims(scope="mcp:*"), b"tok", forward_token=False)
    assert isinstance(short, VerifiedToken)
    denial = decide(short, resource, require_resource_tokens=True)
    assert denial is not None and denial.status == 403
