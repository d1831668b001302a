"""The stand-in's organisations and teams: who is a member of what, per user.

Configured at start (``--org-member ORG:LOGIN[:pending]``, ``--team-member ORG/SLUG:LOGIN``,
``--saml-org ORG``, ``--max-per-page N``) or replaced at run time with
``POST /_standin/orgs`` and a JSON document of the same content::

    {"orgs": {"acme": {"members": {"alice": "active", "bob": "pending"},
                       "teams": {"platform": ["alice"]}, "saml": false}},
     "max_per_page": 100}

Names compare case-insensitively, as on GitHub, and keep their configured spelling in answers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

STATES = ("active", "pending")


def stable_id(kind: str, name: str) -> int:
    """A number per name that never changes, like GitHub's ids."""
    return int(hashlib.sha256(f"{kind}:{name.lower()}".encode()).hexdigest()[:7], 16) + 1000


@dataclass
class Org:
    login: str
    """The organisation's login, as configured (GitHub answers with its canonical case)."""
    members: dict[str, str] = field(default_factory=dict)
    """Lower-case login -> ``active`` or ``pending`` (an invitation not yet accepted)."""
    teams: dict[str, set[str]] = field(default_factory=dict)
    """Team slug -> lower-case logins of its members."""
    saml: bool = False
    """SAML SSO enforced and the app's tokens not authorized: GitHub answers 403 / hides it."""


@dataclass
class OrgDirectory:
    orgs: dict[str, Org] = field(default_factory=dict)
    """Lower-case organisation login -> organisation."""
    max_per_page: int = 100
    """Cap on ``per_page`` (GitHub's is 100); lower it to make short lists paginate."""

    def org(self, login: str) -> Org:
        return self.orgs.setdefault(login.lower(), Org(login=login))

    def add_member(self, spec: str) -> None:
        """``ORG:LOGIN`` or ``ORG:LOGIN:pending``."""
        org, _, rest = spec.strip().partition(":")
        login, _, state = rest.partition(":")
        state = state or "active"
        if not org or not login or state not in STATES:
            raise ValueError(f"not ORG:LOGIN[:pending]: {spec!r}")
        self.org(org).members[login.lower()] = state

    def add_team_member(self, spec: str) -> None:
        """``ORG/SLUG:LOGIN``; the login becomes an active member of ORG unless configured."""
        team, _, login = spec.strip().partition(":")
        org, _, slug = team.partition("/")
        if not org or not slug or not login:
            raise ValueError(f"not ORG/SLUG:LOGIN: {spec!r}")
        entry = self.org(org)
        entry.teams.setdefault(slug.lower(), set()).add(login.lower())
        entry.members.setdefault(login.lower(), "active")

    def to_json(self) -> dict[str, Any]:
        return {
            "orgs": {
                org.login: {
                    "members": dict(org.members),
                    "teams": {slug: sorted(users) for slug, users in org.teams.items()},
                    "saml": org.saml,
                }
                for org in self.orgs.values()
            },
            "max_per_page": self.max_per_page,
        }


def directory_from_json(body: Any) -> OrgDirectory:
    """The directory a ``POST /_standin/orgs`` document describes; ValueError if malformed."""
    if not isinstance(body, dict) or not isinstance(body.get("orgs", {}), dict):
        raise ValueError("expected {'orgs': {...}, 'max_per_page': N}")
    directory = OrgDirectory(max_per_page=int(body.get("max_per_page", 100)))
    if not 1 <= directory.max_per_page <= 100:
        raise ValueError("max_per_page must be between 1 and 100")
    for name, spec in body.get("orgs", {}).items():
        if not isinstance(spec, dict):
            raise ValueError(f"org {name!r}: expected an object")
        org = directory.org(str(name))
        org.saml = bool(spec.get("saml", False))
        for login, state in dict(spec.get("members", {})).items():
            if state not in STATES:
                raise ValueError(f"org {name!r}: state of {login!r} must be active or pending")
            org.members[str(login).lower()] = str(state)
        for slug, logins in dict(spec.get("teams", {})).items():
            org.teams[str(slug).lower()] = {str(login).lower() for login in logins}
            # On GitHub a team member is a member of its organisation.
            for login in org.teams[str(slug).lower()]:
                org.members.setdefault(login, "active")
    return directory
