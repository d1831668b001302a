"""The policy file's OpenID Connect entries: ``allow.users`` ``oidc:<name>`` and
``oidc:sub:<subject>``, ``allow.groups`` (Entra ID ids, Keycloak paths, names with spaces), tool
rules' ``oidc:<group>``; kept apart from GitHub's logins, orgs and teams of the same spelling."""

from __future__ import annotations

from typing import Any

import pytest

from authgate_shared.policy import (
    Allow,
    Policy,
    groups_mentioned,
    parse_policy,
    policy_groups,
    refused_resources,
)
from authgate_shared.policy_rules import ToolPolicy
from authgate_shared.services import parse_services

A, B = "https://mcp-a.example.com", "https://mcp-b.example.com"
ALLOWED = parse_services([A, B])
ENTRA = "5F3C9A7E-1B2D-4C8E-9F10-2A3B4C5D6E7F"
NONE: frozenset[str] = frozenset()
GITHUB_ALICE, OIDC_ALICE = "github|alice", "oidc|00u1AbC"


def parsed(allow: dict[str, Any], *rules: dict[str, Any]) -> tuple[Policy, list[str]]:
    service: dict[str, Any] = {"resource": A, "allow": allow}
    if rules:
        service["tools"] = {"rules": list(rules)}
    return parse_policy({"services": [service, {"resource": B}]}, source="p", allowed=ALLOWED)


def allow_of(allow: dict[str, Any]) -> Allow:
    policy, problems = parsed(allow)
    assert problems == []
    found = policy.services[A].allow
    assert found is not None
    return found


def tools_of(policy: Policy) -> ToolPolicy:
    tools = policy.services[A].tools
    assert tools is not None
    return tools


def test_oidc_entries_parse_apart_from_githubs() -> None:
    allow = allow_of(
        {
            "users": ["OctoCat", "oidc:Alice", "oidc:alice@example.com", "oidc:sub:00u1AbC"],
            "orgs": ["admins"],
            "groups": [ENTRA, "eng/backend", "Platform Engineers"],
        }
    )
    assert allow.users == {"octocat"}
    assert allow.oidc_users == {"alice", "alice@example.com"}
    assert allow.subjects == {OIDC_ALICE}  # exact: a subject's case is the provider's
    assert allow.groups == {ENTRA.lower(), "eng/backend", "platform engineers"}


def test_a_github_login_never_admits_an_oidc_user_of_that_name_nor_the_reverse() -> None:
    github = allow_of({"users": ["alice"]})
    assert github.admits("Alice", NONE, GITHUB_ALICE)
    assert not github.admits("alice", NONE, OIDC_ALICE)
    oidc = allow_of({"users": ["oidc:alice"]})
    assert oidc.admits("ALICE", NONE, OIDC_ALICE)
    assert not oidc.admits("alice", NONE, GITHUB_ALICE)
    assert not oidc.admits("oidc:alice", NONE, "github|oidc:alice")
    assert not oidc.admits("bob", NONE, OIDC_ALICE)


def test_subjects_are_exact_and_never_a_user_name() -> None:
    by_subject = allow_of({"users": ["oidc:sub:00u1AbC"]})
    assert by_subject.admits("whoever", NONE, OIDC_ALICE)
    assert not by_subject.admits("whoever", NONE, "oidc|00u1abc")
    assert not by_subject.admits("sub:00u1AbC", NONE, "oidc|other")
    assert not by_subject.admits("00u1AbC", NONE, GITHUB_ALICE)


@pytest.mark.parametrize(
    ("allow", "held", "admitted"),
    [
        ({"groups": ["admins"]}, {"oidc:admins"}, True),
        ({"groups": ["Admins"]}, {"oidc:admins"}, True),  # the verifier lower-cases the claim
        ({"groups": ["admins"]}, {"admins"}, False),  # a GitHub org of that name
        ({"orgs": ["admins"]}, {"oidc:admins"}, False),  # an OIDC group of an org's name
        ({"teams": ["eng/backend"]}, {"oidc:eng/backend"}, False),
        ({"groups": ["eng/backend"]}, {"eng/backend"}, False),  # a GitHub team of that name
        ({"groups": ["eng/backend"]}, {"oidc:eng/backend"}, True),
        ({"groups": ["/eng/backend"]}, {"oidc:eng/backend"}, True),  # Keycloak's full path
        ({"groups": ["eng"]}, {"oidc:eng/backend"}, False),
        ({"groups": [ENTRA]}, {f"oidc:{ENTRA.lower()}"}, True),
        ({"groups": ["Platform Engineers"]}, {"oidc:platform engineers"}, True),
        ({"groups": ["Platform Engineers"]}, {"oidc:platform"}, False),
    ],
)
def test_oidc_groups_match_only_the_tokens_oidc_groups(
    allow: dict[str, Any], held: set[str], admitted: bool
) -> None:
    for sub in (OIDC_ALICE, GITHUB_ALICE):
        assert allow_of(allow).admits("nobody", frozenset(held), sub) is admitted


@pytest.mark.parametrize(
    ("allow", "problem"),
    [
        ({"users": ["oidc:"]}, "p: services[0].allow.users: invalid entries ['oidc:']"),
        ({"users": ["oidc:sub:"]}, "p: services[0].allow.users: invalid entries ['oidc:sub:']"),
        ({"users": ["oidc:Sub:x"]}, "p: services[0].allow.users: invalid entries ['oidc:Sub:x']"),
        ({"users": ["oidc:a,b"]}, "p: services[0].allow.users: invalid entries ['oidc:a,b']"),
        ({"users": ["oidc:a b"]}, "p: services[0].allow.users: invalid entries ['oidc:a b']"),
        ({"groups": ["a;b"]}, "p: services[0].allow.groups: invalid entries ['a;b']"),
        ({"groups": [""]}, "p: services[0].allow.groups: invalid entries ['']"),
        ({"groups": "admins"}, "p: services[0].allow.groups: must be a list of strings"),
        ({"groups": ["oidc:admins"]}, "p: services[0].allow.groups: invalid entries"),
        ({"email_domains": ["example.com"]}, "p: services[0].allow.email_domains: is global"),
    ],
)
def test_bad_oidc_entries_are_named(allow: dict[str, Any], problem: str) -> None:
    _, problems = parsed(allow)
    assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_tool_rules_name_oidc_groups_with_the_prefix() -> None:
    rule = {"method": "tools/call", "name": "deploy", "groups": ["oidc:Platform Engineers", "acme"]}
    policy, problems = parsed({"orgs": ["acme"]}, rule)
    assert problems == []
    assert tools_of(policy).rules[0].groups == {"oidc:platform engineers", "acme"}
    for bad in ("oidc:", "oidc:a;b", "acme/x/y"):
        _, problems = parsed({}, {**rule, "groups": [bad]})
        assert problems == [f"p: services[0].tools.rules[0].groups: invalid entries [{bad!r}]"]


def test_github_groups_and_oidc_groups_are_listed_apart() -> None:
    rules = [
        {"method": "tools/call", "name": "a", "groups": ["oidc:/ops", "acme/ops"]},
        {"method": "tools/call", "name": "b", "groups": ["oidc:Deployers"]},
    ]
    policy, problems = parsed({"orgs": ["acme"], "groups": [ENTRA, "eng/backend"]}, *rules)
    assert problems == []
    assert groups_mentioned(policy) == {"acme", "acme/ops"}
    assert tools_of(policy).rules[0].groups == {"oidc:ops", "acme/ops"}
    assert policy_groups(policy) == {ENTRA.lower(), "eng/backend", "ops", "deployers"}
    assert policy_groups(None) == frozenset()


def test_the_issuer_refuses_services_by_the_same_rule() -> None:
    policy, problems = parsed({"users": ["alice", "oidc:sub:00u1AbC"], "groups": ["admins"]})
    assert problems == []

    def refused(login: str, groups: set[str], sub: str) -> list[str]:
        return refused_resources(policy, ALLOWED, [A, B], login, groups, sub=sub)

    assert refused("alice", set(), GITHUB_ALICE) == []
    assert refused("alice", set(), "oidc|someone") == [A]
    assert refused("x", set(), OIDC_ALICE) == []
    assert refused("x", {"oidc:ADMINS"}, "oidc|someone") == []
    assert refused("x", {"admins"}, "github|x") == [A]
