"""The policy file's per-service ``allow`` at the issuer: no token for a service the user may
not use (issue #18). Checked at the callback, before any code or grant exists, and again at
every refresh with the re-checked groups (oauth.membership_recheck); the verifier applies the
same rule (``authgate_shared.policy``) per request.

A GitHub user's token ``groups`` hold only the organisations and teams the login asks GitHub
about (``ALLOWED_GITHUB_ORGS`` / ``ALLOWED_GITHUB_TEAMS``), so every GitHub group the policy
names must be one of them: otherwise a rule naming it could never match, and start-up says so.
An OpenID Connect user's groups come with the login itself: those the policy names
(``policy_groups``) are carried as ``oidc:<group>`` (login.oidc_access), so they need no list.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from authgate_shared.claims import subject
from authgate_shared.policy import Policy, groups_mentioned, refused_resources

from .settings import GithubSettings

if TYPE_CHECKING:  # the settings import this module's start-up check
    from ..settings import IssuerSettings


def unknown_groups(policy: Policy | None, github: GithubSettings) -> list[str]:
    """A start-up problem per group the policy names that the login never asks GitHub about."""
    if policy is None:
        return []
    problems = []
    for group in sorted(groups_mentioned(policy)):
        team = "/" in group
        known = github.allowed_teams if team else github.allowed_orgs
        if group not in known:
            listing = "ALLOWED_GITHUB_TEAMS" if team else "ALLOWED_GITHUB_ORGS"
            problems.append(
                f"POLICY_FILE names {group!r}, which is not in {listing}: the login checks only"
                " the listed organisations and teams, so no token would ever carry it"
            )
    return problems


def unsupported_scopes(policy: Policy | None, supported: Iterable[str]) -> list[str]:
    """A start-up problem per scope the policy requires that the issuer would never grant: a
    client told to step up to it (403 insufficient_scope) could not obtain it."""
    if policy is None:
        return []
    wanted: set[str] = set()
    for service in policy.services.values():
        wanted |= service.scopes or set()
        for rule in service.tools.rules if service.tools is not None else ():
            wanted |= rule.scopes
    known = set(supported)
    return [
        f"POLICY_FILE requires scope {scope!r}, which is not in SCOPES_SUPPORTED: no client"
        " could obtain it"
        for scope in sorted(wanted - known)
    ]


def refused(
    settings: IssuerSettings,
    resources: Iterable[str],
    login: str,
    groups: Iterable[str],
    *,
    sub: str | None = None,
) -> list[str]:
    """The requested services the user may not use ([] when all are allowed). ``sub``: the
    user's token ``sub``, ``oidc|<subject>`` for an OpenID Connect user (whose ``login`` is
    the user name claim: it must never match a GitHub login in ``allow.users``); None is a
    GitHub user, ``github|<login>``."""
    who = subject(login) if sub is None else sub
    return refused_resources(settings.policy, settings.services, resources, login, groups, sub=who)


def consent_texts(
    settings: IssuerSettings, resources: Iterable[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """For the consent page: the display name of each resource whose service the policy names,
    and the scope descriptions (SCOPE_DESCRIPTIONS, the requested services' own over them)."""
    names: dict[str, str] = {}
    descriptions = dict(settings.scope_descriptions)
    policy = settings.policy
    for resource in resources if policy is not None else ():
        assert policy is not None
        service = policy.services.get(settings.services.service_for(resource) or resource)
        if service is not None:
            if service.name:
                names[resource] = service.name
            descriptions.update(service.scope_descriptions)
    return names, descriptions
