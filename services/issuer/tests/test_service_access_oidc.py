"""The policy file's allow at the issuer for OpenID Connect users (login.service_access): the
token's ``sub`` says whose user name it is, OIDC groups need no ALLOWED_GITHUB_* list, and the
start-up check still names GitHub groups the login would never ask about."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from authgate_issuer.login.service_access import refused, unknown_groups
from authgate_issuer.settings import IssuerSettings
from authgate_shared.policy import policy_groups

A, B = "https://mcp-a.example.com", "https://mcp-b.example.com"
POLICY = f"""
services:
  - resource: {A}
    allow: {{users: [alice, "oidc:bob", "oidc:sub:00u1AbC"], groups: [Platform Engineers]}}
    tools:
      rules:
        - {{method: tools/call, name: deploy, groups: ["oidc:/ops/deploy", acme]}}
  - resource: {B}
"""


def with_policy(env: dict[str, str], tmp_path: Path) -> IssuerSettings:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    keys = "k1:" + "A" * 43 + "="
    orgs = {"ALLOWED_GITHUB_ORGS": "acme", "UPSTREAM_TOKEN_KEYS": keys}
    return IssuerSettings.from_env({**env, "POLICY_FILE": str(path), **orgs})


def test_oidc_groups_need_no_github_list_but_github_ones_still_do(
    env: dict[str, str], tmp_path: Path
) -> None:
    settings = with_policy(env, tmp_path)
    assert settings.policy is not None
    # Without acme among the organisations the login asks about, start-up names it; the OIDC
    # groups of the same policy are not named.
    assert unknown_groups(
        settings.policy, dataclasses.replace(settings.github, allowed_orgs=frozenset())
    ) == [
        "POLICY_FILE names 'acme', which is not in ALLOWED_GITHUB_ORGS: the login checks only"
        " the listed organisations and teams, so no token would ever carry it"
    ]
    assert policy_groups(settings.policy) == {"platform engineers", "ops/deploy"}


def test_refused_tells_github_and_oidc_users_apart(env: dict[str, str], tmp_path: Path) -> None:
    settings = with_policy(env, tmp_path)
    both = [A, B]
    assert refused(settings, both, "alice", []) == []  # no sub: a GitHub user, as before
    assert refused(settings, both, "alice", [], sub="github|alice") == []
    assert refused(settings, both, "alice", [], sub="oidc|x") == [A]
    assert refused(settings, both, "bob", [], sub="oidc|x") == []
    assert refused(settings, both, "bob", []) == [A]
    assert refused(settings, both, "x", [], sub="oidc|00u1AbC") == []
    assert refused(settings, both, "x", ["oidc:Platform Engineers"], sub="oidc|x") == []
    assert refused(settings, both, "x", ["platform engineers"], sub="github|x") == [A]
