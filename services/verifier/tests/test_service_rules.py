"""A service's compiled policy rules, as pure functions: MCP header decoding, trusted protocol
revisions, repeated headers, tool rules in order with their denials, and the bounded memo."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

import pytest

from authgate_shared.errors import ACCESS_DENIED, INSUFFICIENT_SCOPE
from authgate_shared.policy import Allow, Policy, ServicePolicy
from authgate_shared.policy_rules import TOOLS_CALL, ToolPolicy, ToolRule
from authgate_verifier import service_policy
from authgate_verifier.decision import VerifiedToken, accept_claims
from authgate_verifier.service_policy import (
    BAD_ENCODING,
    MAX_MEMO,
    NO_METHOD,
    NOT_ALLOWED,
    REPEATED,
    TOOL_DENIED,
    UNVERSIONED,
    ServiceRules,
    compile_policy,
    header_text,
)

URI = "https://mcp-a.example.com"
V = b"2026-07-28"
NONE: frozenset[str] = frozenset()


def token(
    scope: str = "mcp:*", groups: tuple[str, ...] = (), user: str = "octocat", sub: str = ""
) -> VerifiedToken:
    claims: dict[str, Any] = {
        "sub": sub or f"github|{user}",
        "github_username": user,
        "client_id": "c1",
        "scope": scope,
        "aud": [URI],
        "jti": "g.1",
        "exp": 2_000_000_000,
        "groups": list(groups),
    }
    result = accept_claims(claims, b"tok", forward_token=False)
    assert isinstance(result, VerifiedToken)
    return result


def b64(text: str) -> bytes:
    return b"=?base64?" + base64.b64encode(text.encode()) + b"?="


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"echo", "echo"),
        (b64("déploy"), "déploy"),
        (b64("ab"), "ab"),  # "=?base64?YWI=?=": 15 bytes
        (b"=?base64?=", "=?base64?="),  # prefix and suffix overlap: not an encoded value
        (b"=?base64??=", ""),  # an empty payload is the empty text
        (b"=?base64?QQ", "=?base64?QQ"),  # not closed
        (b"x=?base64?QUI=?=", "x=?base64?QUI=?="),  # not at the start
        (b"=?base64?YQ==?=", "a"),
    ],
)
def test_header_text(raw: bytes, text: str) -> None:
    assert header_text(raw) == text


@pytest.mark.parametrize(
    "raw",
    [
        b"=?base64?!!!!?=",  # not base64
        b"=?base64?YQ?=",  # not padded: not the canonical spelling
        b"=?base64?YR==?=",  # non-canonical trailing bits
        b"=?base64?" + base64.b64encode(b"\xff\xfe") + b"?=",  # not UTF-8
    ],
)
def test_malformed_encoded_headers_are_none(raw: bytes) -> None:
    assert header_text(raw) is None


@pytest.mark.parametrize(
    ("version", "trusted"),
    [
        (b"2026-07-28", True),
        (b"2026-07-29", True),
        (b"2027-01-01", True),
        (b"2026-07-27", False),
        (b"2025-11-25", False),
        (b"9999-99-99x", False),
        (b"2026-7-28", False),
        (b"latest", False),
    ],
)
def test_trusted_revisions(version: bytes, trusted: bool) -> None:
    for _ in range(2):  # memoised
        assert service_policy._trusted(version) is trusted


def test_the_revision_memo_is_bounded_and_remembers() -> None:
    for i in range(200):
        service_policy._trusted(b"2030-01-%02d" % (i % 100))
        assert len(service_policy._VERSIONS) <= 64
    service_policy._VERSIONS.clear()
    service_policy._trusted(b"2026-07-28")
    service_policy._trusted(b"2025-11-25")
    assert service_policy._VERSIONS == {b"2026-07-28": True, b"2025-11-25": False}


def rules(*tool_rules: ToolRule, default_allow: bool = True, refuse: bool = True) -> ServiceRules:
    tools = ToolPolicy(default_allow=default_allow, refuse_unversioned=refuse, rules=tool_rules)
    return ServiceRules(ServicePolicy(resource=URI, tools=tools), frozenset({"mcp:*"}))


def request(
    method: bytes | None, name: bytes | None = None, version: bytes | None = V
) -> list[tuple[bytes, bytes]]:
    headers = [(b"x-forwarded-method", b"POST")]
    if version is not None:
        headers.append((b"mcp-protocol-version", version))
    if method is not None:
        headers.append((b"mcp-method", method))
    if name is not None:
        headers.append((b"mcp-name", name))
    return headers


DEPLOY = ToolRule(TOOLS_CALL, "deploy_*", frozenset({"mcp:deploy"}), NONE)
OPS = ToolRule(TOOLS_CALL, "ops", NONE, frozenset({"acme/ops"}))
BOTH = ToolRule(TOOLS_CALL, "both", frozenset({"mcp:both"}), frozenset({"acme"}))


def test_scope_rules_step_up_with_the_service_scopes() -> None:
    r = rules(DEPLOY)
    denial, outcome = r.check_request(token(), request(b"tools/call", b"deploy_x"))
    assert denial is not None and outcome is not None
    assert (denial.status, denial.error, denial.reason) == (
        403,
        INSUFFICIENT_SCOPE,
        "insufficient_scope",
    )
    assert denial.step_up_scope == "mcp:* mcp:deploy"
    assert denial.description == "deploy_* needs scope: mcp:deploy"
    assert outcome.label == "deploy_*" and outcome.tool == "deploy_x"
    assert (
        r.check_request(token("mcp:* mcp:deploy"), request(b"tools/call", b"deploy_x"))[0] is None
    )


def test_group_rules_are_access_denied() -> None:
    r = rules(OPS, BOTH)
    denial, _ = r.check_request(token(groups=("acme",)), request(b"tools/call", b"ops"))
    assert denial is not None and (denial.error, denial.reason) == (ACCESS_DENIED, "group_required")
    assert r.check_request(token(groups=("acme/ops",)), request(b"tools/call", b"ops"))[0] is None
    # Groups first, then scopes: each missing one refuses on its own.
    assert (
        r.check_request(token("mcp:both"), request(b"tools/call", b"both"))[0].reason
        == "group_required"
    )  # type: ignore[union-attr]
    scope_only = r.check_request(token(groups=("acme",)), request(b"tools/call", b"both"))[0]
    assert scope_only is not None and scope_only.reason == "insufficient_scope"
    assert r.check_request(token("mcp:both", ("acme",)), request(b"tools/call", b"both"))[0] is None


def test_unmatched_tools_follow_the_default() -> None:
    for default_allow, expected in ((True, None), (False, TOOL_DENIED)):
        r = rules(DEPLOY, default_allow=default_allow)
        denial, outcome = r.check_request(token(), request(b"tools/call", b"other"))
        assert denial is expected and outcome is not None
        assert outcome.default_denied is (not default_allow) and outcome.label == "other"
        assert outcome.key == (URI, "other", "allowed" if default_allow else "tool_denied")
        # Other methods no rule matches pass whatever the default.
        assert r.check_request(token(), request(b"tools/list"))[0] is None


def test_headers_that_cannot_be_judged() -> None:
    r = rules(DEPLOY)
    assert r.check_request(token(), request(b"tools/call", version=None)) == (UNVERSIONED, None)
    assert r.check_request(token(), request(b"tools/call", version=b"2025-11-25")) == (
        UNVERSIONED,
        None,
    )
    lax = rules(DEPLOY, refuse=False)
    assert lax.check_request(token(), request(b"tools/call", b"deploy_x", None)) == (None, None)
    assert r.check_request(token(), request(None)) == (NO_METHOD, None)
    get = [(b"x-forwarded-method", b"get"), (b"mcp-protocol-version", V)]
    assert r.check_request(token(), get) == (None, None)
    assert r.check_request(token(), request(b"=?base64?!!!!?=")) == (BAD_ENCODING, None)
    assert r.check_request(token(), request(b"tools/call", b"=?base64?!!!!?=")) == (
        BAD_ENCODING,
        None,
    )
    twice = [*request(b"tools/call", b"echo"), (b"mcp-name", b"deploy_x")]
    assert r.check_request(token(), twice) == (REPEATED, None)
    # Another repeated header is not a reason to refuse.
    other = [*request(b"tools/call", b"echo"), (b"x-forwarded-method", b"POST")]
    assert r.check_request(token(), other)[0] is None


def test_service_allow_and_compile() -> None:
    allow = Allow(users=frozenset({"octocat"}), orgs=frozenset({"acme"}), teams=NONE)
    service = ServicePolicy(resource=URI, allow=allow, scopes=frozenset({"mcp:read"}))
    compiled = compile_policy(Policy({URI: service}), lambda uri: frozenset({"ignored"}))
    assert set(compiled) == {URI}
    r = compiled[URI]
    assert r.check_token(token()) is None
    assert r.check_token(token(user="other", groups=("acme",))) is None
    assert r.check_token(token(user="other")) is NOT_ALLOWED
    assert compile_policy(None, lambda uri: NONE) == {}
    assert ServiceRules(ServicePolicy(resource=URI), NONE).check_token(token(user="x")) is None


def test_the_rule_memo_is_bounded_and_used() -> None:
    r = rules(DEPLOY)
    for i in range(MAX_MEMO * 2 + 5):
        r.check_request(token(), request(b"tools/call", b"t%d" % i))
        assert len(r._memo) <= MAX_MEMO
    assert len(r._memo) >= 2


def test_oidc_users_and_groups_are_kept_apart_from_githubs() -> None:
    allow = Allow(
        users=frozenset({"alice"}),
        orgs=frozenset({"admins"}),
        teams=NONE,
        groups=frozenset({"platform engineers"}),
        oidc_users=frozenset({"bob"}),
        subjects=frozenset({"oidc|00u1AbC"}),
    )
    r = ServiceRules(ServicePolicy(resource=URI, allow=allow), NONE)
    assert r.check_token(token(user="alice")) is None
    assert r.check_token(token(user="alice", sub="oidc|x")) is NOT_ALLOWED
    assert r.check_token(token(user="Bob", sub="oidc|x")) is None
    assert r.check_token(token(user="bob")) is NOT_ALLOWED
    assert r.check_token(token(user="whoever", sub="oidc|00u1AbC")) is None
    assert r.check_token(token(user="whoever", sub="oidc|00u1abc")) is NOT_ALLOWED
    oidc_group = ("oidc:Platform Engineers",)
    assert r.check_token(token(user="x", sub="oidc|x", groups=oidc_group)) is None
    assert r.check_token(token(user="x", groups=("admins",))) is None
    assert r.check_token(token(user="x", sub="oidc|x", groups=("oidc:admins",))) is NOT_ALLOWED
    assert r.check_token(token(user="x", groups=("platform engineers",))) is NOT_ALLOWED
    ops = ToolRule(TOOLS_CALL, "ops", NONE, frozenset({"oidc:ops"}))
    r = rules(ops)
    member = token(sub="oidc|x", groups=("oidc:Ops",))
    assert r.check_request(member, request(b"tools/call", b"ops"))[0] is None
    denial, _ = r.check_request(token(groups=("ops",)), request(b"tools/call", b"ops"))
    assert denial is not None and denial.reason == "group_required"


def test_memoised_judgements_cannot_be_changed() -> None:
    # A judgement is memoised and shared by every later request with the same headers.
    r = rules(DEPLOY)
    _, outcome = r.check_request(token(), request(b"tools/call", b"deploy_x"))
    assert outcome is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        outcome.default_denied = True  # type: ignore[misc]
    compiled = next(iter(r._prepared.values()))
    with pytest.raises(dataclasses.FrozenInstanceError):
        compiled.denial_scope = None  # type: ignore[misc]
