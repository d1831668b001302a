"""Who may sign in with OpenID Connect (login.oidc_access): ALLOWED_OIDC_USERS,
ALLOWED_EMAIL_DOMAINS (verified e-mails only, exact domains), ALLOWED_OIDC_GROUPS (Entra ID,
Okta and Keycloak shapes), in union; the token's ``oidc:`` groups; overage fails closed; the
refresh-time re-check on the identity kept with the grant."""

from __future__ import annotations

import dataclasses

import pytest

from authgate_issuer.login.oidc.identity import identity_from_claims
from authgate_issuer.login.oidc.settings import OidcSettings
from authgate_issuer.login.oidc_access import (
    Admission,
    OidcAccessSettings,
    Refusal,
    admit,
    oidc_access_settings_from_env,
    readmit,
)
from authgate_shared.config import EnvReader

ENTRA_GROUP = "5f3c9a7e-1b2d-4c8e-9f10-2a3b4c5d6e7f"
OIDC = OidcSettings(issuer="https://idp.example.com", client_id="authgate", client_secret="s")
NONE: frozenset[str] = frozenset()
ALICE = identity_from_claims(
    {
        "sub": "00u1AbC",
        "preferred_username": "Alice",
        "email": "alice@Example.com",
        "email_verified": True,
        "groups": [ENTRA_GROUP, "/eng/backend", "Platform Engineers", "admins"],
    },
    OIDC,
)


def read(env: dict[str, str]) -> tuple[OidcAccessSettings, list[str], list[str]]:
    reader, warnings = EnvReader(env), list[str]()
    access = oidc_access_settings_from_env(reader, warnings=warnings)
    return access, reader.problems, warnings


def access(**lists: str) -> OidcAccessSettings:
    env = {f"ALLOWED_{name.upper()}": value for name, value in lists.items()}
    settings, problems, _ = read(env)
    assert problems == []
    return settings


def test_settings_are_parsed_and_normalised() -> None:
    settings, problems, warnings = read(
        {
            "ALLOWED_OIDC_USERS": " Alice , sub:00u1AbC,bob@example.com ",
            "ALLOWED_EMAIL_DOMAINS": "Example.COM, corp.example.org",
            "ALLOWED_OIDC_GROUPS": f"{ENTRA_GROUP},/eng/backend, Platform Engineers ",
        }
    )
    assert problems == [] and warnings == []
    assert settings.allowed_users == {"alice", "bob@example.com"}
    assert settings.allowed_subjects == {"00u1AbC"} and not settings.allow_all_users
    assert settings.allowed_email_domains == {"example.com", "corp.example.org"}
    # Keycloak's leading "/" is dropped (as the identity drops it); names keep their case.
    assert settings.allowed_groups == {ENTRA_GROUP, "eng/backend", "Platform Engineers"}


def test_empty_lists_warn_that_nobody_can_log_in_and_star_warns_too() -> None:
    settings, problems, warnings = read({"ALLOWED_OIDC_USERS": " , "})
    assert problems == [] and settings == OidcAccessSettings()
    assert len(warnings) == 1 and "nobody can log in with OIDC" in warnings[0]
    settings, problems, warnings = read({"ALLOWED_OIDC_USERS": "*"})
    assert problems == [] and settings.allow_all_users
    assert len(warnings) == 1 and "everyone the OpenID Provider authenticates" in warnings[0]


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("ALLOWED_OIDC_USERS", "Sub:abc", "neither a user name nor sub:<provider subject>"),
        ("ALLOWED_OIDC_USERS", "sub:", "neither a user name nor sub:<provider subject>"),
        ("ALLOWED_OIDC_USERS", "a;b", "neither a user name nor sub:<provider subject>"),
        ("ALLOWED_OIDC_USERS", "ali ce", "neither a user name nor sub:<provider subject>"),
        ("ALLOWED_EMAIL_DOMAINS", "@example.com", "are not domains"),
        ("ALLOWED_EMAIL_DOMAINS", "*.example.com", "are not domains"),
        ("ALLOWED_EMAIL_DOMAINS", "example..com", "are not domains"),
        ("ALLOWED_EMAIL_DOMAINS", "-example.com", "are not domains"),
        ("ALLOWED_EMAIL_DOMAINS", "exämple.com", "are not domains"),
        ("ALLOWED_OIDC_GROUPS", "a;b", "are not group names"),
        ("ALLOWED_OIDC_GROUPS", "{x}", "are not group names"),
    ],
)
def test_entries_that_could_never_match_are_named(name: str, value: str, problem: str) -> None:
    _, problems, _ = read({"ALLOWED_OIDC_USERS": "x"} | {name: value})
    assert len(problems) == 1 and problems[0].startswith(name) and problem in problems[0]


@pytest.mark.parametrize(
    ("lists", "rule"),
    [
        ({"oidc_users": "*"}, "ALLOWED_OIDC_USERS=*"),
        ({"oidc_users": "ALICE"}, "ALLOWED_OIDC_USERS"),
        ({"oidc_users": "sub:00u1AbC"}, "ALLOWED_OIDC_USERS"),
        ({"email_domains": "example.com"}, "ALLOWED_EMAIL_DOMAINS"),
        ({"email_domains": "EXAMPLE.com"}, "ALLOWED_EMAIL_DOMAINS"),
        ({"oidc_groups": ENTRA_GROUP}, "ALLOWED_OIDC_GROUPS"),
        ({"oidc_groups": "/eng/backend"}, "ALLOWED_OIDC_GROUPS"),
        ({"oidc_groups": "eng/backend"}, "ALLOWED_OIDC_GROUPS"),
        ({"oidc_groups": "Platform Engineers"}, "ALLOWED_OIDC_GROUPS"),
        ({"oidc_users": "bob", "email_domains": "other.org", "oidc_groups": "admins"}, None),
    ],
)
def test_each_list_admits_in_union(lists: dict[str, str], rule: str | None) -> None:
    decided = admit(ALICE, access(**lists), policy_groups=NONE)
    assert isinstance(decided, Admission)
    assert decided.rule == (rule or "ALLOWED_OIDC_GROUPS")


@pytest.mark.parametrize(
    "lists",
    [
        {"oidc_users": "alic, alice2, bob"},
        {"oidc_users": "sub:00u1abc"},  # subjects are exact: case matters
        {"oidc_users": "sub:Alice"},  # the user name never matches a subject entry
        {"email_domains": "evil-example.com"},
        {"email_domains": "sub.example.com"},
        {"email_domains": "com"},
        {"oidc_groups": ENTRA_GROUP.upper()},  # exactly as the provider sends them
        {"oidc_groups": "platform engineers"},
        {"oidc_groups": "eng"},  # a parent path is another group
        {"oidc_groups": "Platform"},
    ],
)
def test_near_misses_are_refused(lists: dict[str, str]) -> None:
    refused = admit(ALICE, access(**lists), policy_groups=NONE)
    assert isinstance(refused, Refusal)
    assert refused.reason.startswith("not on ALLOWED_OIDC_USERS")


def test_a_user_name_written_like_a_subject_entry_never_matches_it() -> None:
    sneaky = dataclasses.replace(ALICE, subject="other", username="sub:00u1AbC")
    assert isinstance(admit(sneaky, access(oidc_users="sub:00u1AbC"), policy_groups=NONE), Refusal)


@pytest.mark.parametrize(
    "email",
    ["alice@example.com.evil.org", "alice@evil-example.com", "example.com", "alice@", None],
)
def test_only_the_exact_domain_after_the_last_at_counts(email: str | None) -> None:
    other = dataclasses.replace(ALICE, email=email)
    assert isinstance(
        admit(other, access(email_domains="example.com"), policy_groups=NONE), Refusal
    )


def test_an_unverified_email_never_admits() -> None:
    unverified = dataclasses.replace(ALICE, email_verified=False)
    refused = admit(unverified, access(email_domains="example.com"), policy_groups=NONE)
    assert isinstance(refused, Refusal) and "did not verify it" in refused.reason
    # As decoded from claims: a string "true" is not a verified e-mail.
    claims = {"sub": "x", "preferred_username": "x", "email": "x@example.com"}
    for verified in (False, "true", 1, None):
        identity = identity_from_claims({**claims, "email_verified": verified}, OIDC)
        assert isinstance(
            admit(identity, access(email_domains="example.com"), policy_groups=NONE), Refusal
        )
    kelvin = dataclasses.replace(ALICE, email="alice@\u212aaboom.com")
    assert isinstance(
        admit(kelvin, access(email_domains="kaboom.com"), policy_groups=NONE), Refusal
    )


def test_the_token_carries_only_named_groups_with_the_oidc_prefix() -> None:
    decided = admit(
        ALICE, access(oidc_groups=f"{ENTRA_GROUP},nobody"), policy_groups=frozenset({"admins"})
    )
    assert isinstance(decided, Admission)
    # The policy's names are lower-case (the policy file compares groups case-insensitively).
    assert decided.groups == (f"oidc:{ENTRA_GROUP}", "oidc:admins")
    decided = admit(
        ALICE, access(email_domains="example.com"), policy_groups=frozenset({"platform engineers"})
    )
    assert isinstance(decided, Admission) and decided.groups == ("oidc:Platform Engineers",)
    decided = admit(ALICE, access(oidc_users="alice"), policy_groups=NONE)
    assert isinstance(decided, Admission) and decided.groups == ()


def test_overage_fails_closed_when_groups_decide_anything() -> None:
    overage = dataclasses.replace(ALICE, groups=frozenset(), groups_incomplete=True)
    for lists, policy in (({"oidc_groups": "admins"}, NONE), ({"oidc_users": "alice"}, {"x"})):
        refused = admit(overage, access(**lists), policy_groups=frozenset(policy))
        assert isinstance(refused, Refusal) and "overage" in refused.reason
    # Without any group rule, the missing groups change nothing.
    assert isinstance(admit(overage, access(oidc_users="alice"), policy_groups=NONE), Admission)


def again(
    lists: OidcAccessSettings,
    *,
    sub: str = "oidc|00u1AbC",
    verified: bool = True,
    groups: tuple[str, ...] = (f"oidc:{ENTRA_GROUP}", "oidc:admins", "admins"),
    policy_groups: frozenset[str] = NONE,
) -> Admission | Refusal:
    return readmit(
        lists,
        sub=sub,
        username="Alice",
        email="alice@example.com",
        email_verified=verified,
        groups=groups,
        policy_groups=policy_groups,
    )


def test_readmit_judges_the_kept_identity_against_todays_lists() -> None:
    assert again(access(oidc_groups="admins")) == Admission(("oidc:admins",), "ALLOWED_OIDC_GROUPS")
    by_subject = again(access(oidc_users="sub:00u1AbC"), policy_groups=frozenset({ENTRA_GROUP}))
    assert by_subject == Admission((f"oidc:{ENTRA_GROUP}",), "ALLOWED_OIDC_USERS")
    assert again(access(oidc_users="alice")) == Admission((), "ALLOWED_OIDC_USERS")
    assert again(access(email_domains="example.com")) == Admission((), "ALLOWED_EMAIL_DOMAINS")
    # A GitHub org "admins" among the kept groups is not the OIDC group "admins".
    assert isinstance(again(access(oidc_groups="admins"), groups=("admins",)), Refusal)
    # The operator removed the domain (or the user, or the group): cut off at the next refresh.
    assert isinstance(again(access(email_domains="example.org")), Refusal)
    assert isinstance(again(access(oidc_users="bob")), Refusal)
    assert isinstance(again(access(oidc_groups="other")), Refusal)
    assert isinstance(again(access(email_domains="example.com"), verified=False), Refusal)
    # Not an OpenID Connect grant: never judged by these lists.
    assert isinstance(again(access(oidc_users="*"), sub="github|alice"), Refusal)
