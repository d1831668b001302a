"""Who may sign in with OpenID Connect: users, verified e-mail domains and groups, in union
(the lists: login.oidc_access_settings).

A user is admitted by ``ALLOWED_OIDC_USERS`` (user name or ``sub:<subject>``, or ``*``), by an
e-mail in ``ALLOWED_EMAIL_DOMAINS`` that the provider marks ``email_verified`` (an unverified
address is whatever the user typed into their profile, Core §5.1: counting it would let anyone
claim ``ceo@example.com``), or by a group in ``ALLOWED_OIDC_GROUPS``.

The token's groups are the user's groups named in ALLOWED_OIDC_GROUPS or in the policy file,
each ``oidc:<group>``: the prefix keeps them apart from GitHub's ``acme`` / ``acme/platform`` in
the same claim, and naming only what a rule uses keeps tokens small and the user's other
groups private. At refresh the identity kept with the grant is judged again (``readmit``), so an
operator who removes a user, a domain or a group cuts them off at the next refresh.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .oidc.identity import SUB_PREFIX, OidcIdentity
from .oidc_access_settings import OidcAccessSettings, oidc_access_settings_from_env

__all__ = [
    "Admission",
    "OidcAccessSettings",
    "Refusal",
    "admit",
    "oidc_access_settings_from_env",
    "readmit",
]
GROUP_PREFIX = "oidc:"


@dataclass(frozen=True)
class Admission:
    groups: tuple[str, ...]
    """The token's groups: ``oidc:<group>``, sorted."""
    rule: str
    """Which list admitted the user (for the log)."""


@dataclass(frozen=True)
class Refusal:
    reason: str
    """For the operator's log; names settings, never the user's e-mail or groups."""


def _judge(
    access: OidcAccessSettings,
    policy_groups: frozenset[str],
    *,
    subject: str,
    username: str,
    email: str | None,
    email_verified: bool,
    groups: frozenset[str],
) -> Admission | Refusal:
    domain = email.rpartition("@")[2] if email and "@" in email else ""
    # ASCII only before lower(): the Kelvin sign "\u212a" lower-cases to "k".
    listed = domain.isascii() and domain.lower() in access.allowed_email_domains
    if access.allow_all_users:
        rule = "ALLOWED_OIDC_USERS=*"
    elif subject in access.allowed_subjects or username.lower() in access.allowed_users:
        rule = "ALLOWED_OIDC_USERS"
    elif listed and email_verified:
        rule = "ALLOWED_EMAIL_DOMAINS"
    elif not groups.isdisjoint(access.allowed_groups):
        rule = "ALLOWED_OIDC_GROUPS"
    else:
        unverified = " (the e-mail's domain is listed, but the provider did not verify it)"
        return Refusal(
            "not on ALLOWED_OIDC_USERS, no verified e-mail in ALLOWED_EMAIL_DOMAINS, not in"
            f" ALLOWED_OIDC_GROUPS{unverified if listed else ''}"
        )
    # The policy file compares groups case-insensitively (the verifier lower-cases the claim).
    named = {group.lower() for group in policy_groups}
    kept = (g for g in groups if g in access.allowed_groups or g.lower() in named)
    return Admission(tuple(sorted(GROUP_PREFIX + group for group in kept)), rule)


def admit(
    identity: OidcIdentity, access: OidcAccessSettings, *, policy_groups: frozenset[str]
) -> Admission | Refusal:
    """At the callback: may this user sign in, and with which groups in the token.
    ``policy_groups``: every OIDC group the policy file names (``policy.policy_groups``)."""
    if identity.groups_incomplete and (access.allowed_groups or policy_groups):
        # Entra ID's overage: the groups are elsewhere, so group rules cannot be decided; fail
        # closed rather than judge on a partial list (emit only the groups assigned to the app).
        return Refusal("the provider left the groups out of the ID token (overage)")
    return _judge(
        access,
        policy_groups,
        subject=identity.subject,
        username=identity.username,
        email=identity.email,
        email_verified=identity.email_verified,
        groups=identity.groups,
    )


def readmit(
    access: OidcAccessSettings,
    *,
    sub: str,
    username: str,
    email: str | None,
    email_verified: bool,
    groups: Iterable[str],
    policy_groups: frozenset[str],
) -> Admission | Refusal:
    """At refresh: the identity kept with the grant (``sub`` = ``oidc|<subject>``, the groups
    as in its tokens, ``oidc:<group>``) judged against today's lists; the groups a rule still
    names carried on. OIDC groups are those of the login: the provider is not asked again."""
    if not sub.startswith(SUB_PREFIX):
        return Refusal("not an OpenID Connect identity")
    return _judge(
        access,
        policy_groups,
        subject=sub.removeprefix(SUB_PREFIX),
        username=username,
        email=email,
        email_verified=email_verified,
        groups=frozenset(
            g.removeprefix(GROUP_PREFIX) for g in groups if g.startswith(GROUP_PREFIX)
        ),
    )
