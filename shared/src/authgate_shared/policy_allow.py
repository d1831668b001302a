"""A service's ``allow`` in the policy file: who may use it, matched against the token.

    allow:
      users: [octocat, "oidc:alice", "oidc:sub:00u1abc"]   # GitHub logins; OIDC users
      orgs: [acme]                                         # GitHub organisations
      teams: [acme/platform]                               # GitHub org/team-slug
      groups: [Platform Engineers, eng/backend]            # OpenID Connect groups

Any one entry admits (union). GitHub logins, orgs and teams compare case-insensitively, as
GitHub's do. OpenID Connect users are written ``oidc:<user name>`` (case-insensitive) or
``oidc:sub:<provider subject>`` (exact): a plain ``alice`` matches only the GitHub login
``alice``, never an OIDC user of that name, whose token's ``sub`` is ``oidc|<subject>``. OIDC
groups are named as the provider sends them and match the token's ``oidc:<group>`` entries
(case-insensitively: the verifier lower-cases the claim), so a GitHub organisation ``admins``
never matches an OIDC group ``admins``. E-mail domains are global only (ALLOWED_EMAIL_DOMAINS):
the token does not carry the e-mail, so a service cannot decide on it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

LOGIN_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38})$")
TEAM_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,38}/[a-z0-9][a-z0-9_-]{0,99}$")
OIDC = "oidc:"
"""Prefix of OIDC users in ``allow.users`` and of OIDC groups in the token and tool rules."""
OIDC_SUBJECT = "oidc:sub:"
OIDC_SUB = "oidc|"
"""An OIDC user's token ``sub``: ``oidc|<provider subject>`` (GitHub's: ``github|<login>``)."""
# What the issuer lets through (login.oidc.identity): printable ASCII without "," and ";".
OIDC_NAME_RE = re.compile(r"[\x21-\x2b\x2d-\x3a\x3c-\x7a|~]{1,256}\Z")
OIDC_SUBJECT_RE = re.compile(r"[\x21-\x7a|~]{1,255}\Z")
OIDC_GROUP_RE = re.compile(r"[\x20-\x2b\x2d-\x3a\x3c-\x7a|~]{1,256}\Z")
KEYS = ("users", "orgs", "teams", "groups")

Problem = Callable[[str, str], None]


@dataclass(frozen=True, slots=True)
class Allow:
    users: frozenset[str]
    """GitHub logins, lower-case."""
    orgs: frozenset[str]
    teams: frozenset[str]
    groups: frozenset[str] = frozenset()
    """OIDC group names, lower-case, without the ``oidc:`` the token gives them."""
    oidc_users: frozenset[str] = frozenset()
    """OIDC user names (``oidc:<name>`` entries), lower-case, without the prefix."""
    subjects: frozenset[str] = frozenset()
    """OIDC users by subject, as the token's ``sub`` spells them: ``oidc|<subject>``."""
    _any_group: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Computed once: the verifier asks per request.
        held = self.orgs | self.teams | {OIDC + group for group in self.groups}
        object.__setattr__(self, "_any_group", frozenset(held))

    def admits(self, login: str, groups: frozenset[str], sub: str) -> bool:
        """``groups``: the token's, lower-case (orgs, ``org/team``, ``oidc:<group>``);
        ``sub``: the token's, which says whether ``login`` is a GitHub or an OIDC user."""
        if not groups.isdisjoint(self._any_group):
            return True
        if sub.startswith(OIDC_SUB):
            return sub in self.subjects or login.lower() in self.oidc_users
        return login.lower() in self.users


def _list(value: Any, where: str, problem: Problem) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problem(where, "must be a list of strings")
        return []
    return value


def _user(entry: str) -> str | None:
    """The entry as ``Allow`` keeps it (a subject as ``oidc|<subject>``), None if invalid."""
    if entry.startswith(OIDC_SUBJECT):
        subject = entry[len(OIDC_SUBJECT) :]
        return OIDC_SUB + subject if OIDC_SUBJECT_RE.match(subject) else None
    lowered = entry.lower()
    if lowered.startswith(OIDC):
        name = lowered[len(OIDC) :]
        # "oidc:Sub:x" would read as a subject to some and as a name to others: refused.
        return lowered if OIDC_NAME_RE.match(name) and not name.startswith("sub:") else None
    return lowered if LOGIN_RE.match(lowered) else None


def _group(entry: str) -> str | None:
    if entry.startswith(OIDC):
        return None  # written without the prefix here; the token adds it
    # Keycloak's "/eng/backend" reaches the token as "eng/backend" (login.oidc.identity).
    name = entry.removeprefix("/").lower()
    return name if OIDC_GROUP_RE.match(name) else None


def parse_allow(value: Any, where: str, problem: Problem) -> Allow | None:
    """A service's ``allow``; ``problem(where, message)`` for each problem found."""
    if value is None:
        return None
    if not isinstance(value, dict):
        problem(where, "must be a mapping with users, orgs, teams and/or groups")
        return None
    for key in set(value) - set(KEYS):
        why = "unknown key (expected users, orgs, teams, groups)"
        if key == "email_domains":
            why = "is global only (ALLOWED_EMAIL_DOMAINS): the token does not carry the e-mail"
        problem(f"{where}.{key}", why)
    parsers: dict[str, Callable[[str], str | None]] = {
        "users": _user,
        "orgs": lambda v: v.lower() if LOGIN_RE.match(v.lower()) else None,
        "teams": lambda v: v.lower() if TEAM_RE.match(v.lower()) else None,
        "groups": _group,
    }
    parsed: dict[str, list[str]] = {}
    for key, parse in parsers.items():
        entries = _list(value.get(key), f"{where}.{key}", problem)
        kept = [(entry, parse(entry)) for entry in entries]
        bad = [entry for entry, result in kept if result is None]
        if bad:
            hint = " (OIDC groups are written without oidc:)" if key == "groups" else ""
            problem(f"{where}.{key}", f"invalid entries {bad}{hint}")
        parsed[key] = [result for _, result in kept if result is not None]
    users = parsed["users"]
    return Allow(
        users=frozenset(u for u in users if not u.startswith((OIDC, OIDC_SUB))),
        orgs=frozenset(parsed["orgs"]),
        teams=frozenset(parsed["teams"]),
        groups=frozenset(parsed["groups"]),
        oidc_users=frozenset(u[len(OIDC) :] for u in users if u.startswith(OIDC)),
        subjects=frozenset(u for u in users if u.startswith(OIDC_SUB)),
    )


def _rule_group(entry: str) -> str | None:
    lowered = entry.lower()
    if lowered.startswith(OIDC):
        name = lowered[len(OIDC) :].removeprefix("/")
        return OIDC + name if OIDC_GROUP_RE.match(name) else None
    return lowered if LOGIN_RE.match(lowered) or TEAM_RE.match(lowered) else None


def tool_rule_groups(value: Any, where: str, problem: Problem) -> list[str]:
    """A tool rule's groups as the token spells them: GitHub orgs and ``org/team``, and
    ``oidc:<group>``, lower-case (any one suffices)."""
    entries = [(entry, _rule_group(entry)) for entry in _list(value, where, problem)]
    bad = [entry for entry, group in entries if group is None]
    if bad:
        problem(where, f"invalid entries {bad}")
    return [group for _, group in entries if group is not None]
