"""The OIDC login's access lists, read from the issuer's ``EnvReader`` (like
``login.settings``), so a wrong entry is named in the same start-up error as every other one.

``ALLOWED_OIDC_USERS``: user names (the OIDC_USERNAME_CLAIM value, case-insensitive) or exact
provider subjects written ``sub:<subject>`` (Core §5.7: only ``sub`` is stable and never
reassigned); ``*`` admits everyone the provider authenticates. ``ALLOWED_EMAIL_DOMAINS``: exact
e-mail domains (a subdomain is another domain). ``ALLOWED_OIDC_GROUPS``: group names exactly as
the provider sends them (Entra ID object ids, Okta names, Keycloak paths without the leading
``/``, as login.oidc.identity normalises them). Decisions: login.oidc_access.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from authgate_shared.config import EnvReader

from .oidc.identity import GROUP, SUBJECT, USERNAME

SUBJECT_ENTRY = "sub:"
LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"  # RFC 1123 §2.1 host name label
DOMAIN = re.compile(rf"(?:{LABEL}\.)*{LABEL}")


@dataclass(frozen=True)
class OidcAccessSettings:
    allowed_users: frozenset[str] = frozenset()
    """ALLOWED_OIDC_USERS' user names, lower-cased."""
    allowed_subjects: frozenset[str] = frozenset()
    """ALLOWED_OIDC_USERS' ``sub:<subject>`` entries: the provider's subjects, exact."""
    allow_all_users: bool = False
    """ALLOWED_OIDC_USERS contains ``*``."""
    allowed_email_domains: frozenset[str] = frozenset()
    """ALLOWED_EMAIL_DOMAINS, lower-cased; only verified e-mails count."""
    allowed_groups: frozenset[str] = frozenset()
    """ALLOWED_OIDC_GROUPS, exactly as the provider sends them."""


def _items(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _users(value: str) -> tuple[frozenset[str], frozenset[str]]:
    names, subjects = set(), set()
    for entry in (item for item in _items(value) if item != "*"):
        subject = entry[len(SUBJECT_ENTRY) :]
        if entry.startswith(SUBJECT_ENTRY) and SUBJECT.fullmatch(subject):
            subjects.add(subject)
        elif entry.lower().startswith(SUBJECT_ENTRY) or not USERNAME.fullmatch(entry):
            # A user name "sub:..." would read as a subject: refused, never guessed.
            raise ValueError(f"{entry!r} is neither a user name nor sub:<provider subject>")
        else:
            names.add(entry.lower())
    return frozenset(names), frozenset(subjects)


def _domains(value: str) -> frozenset[str]:
    bad = [item for item in _items(value) if not DOMAIN.fullmatch(item.lower())]
    if bad:
        raise ValueError(f"{bad} are not domains (exact, e.g. example.com; no @ or *)")
    return frozenset(item.lower() for item in _items(value))


def _groups(value: str) -> frozenset[str]:
    # Keycloak's "/eng/backend" arrives as "eng/backend" (identity.py): accept either spelling.
    groups = frozenset(item.removeprefix("/") for item in _items(value))
    bad = sorted(group for group in groups if not GROUP.fullmatch(group))
    if bad:
        raise ValueError(f"{bad} are not group names the provider could send")
    return groups


def oidc_access_settings_from_env(env: EnvReader, *, warnings: list[str]) -> OidcAccessSettings:
    """The OIDC access lists; problems go to ``env.problems``, warnings to ``warnings``."""
    empty: frozenset[str] = frozenset()
    users, subjects = env.parsed("ALLOWED_OIDC_USERS", (empty, empty), _users)
    everyone = "*" in env.items("ALLOWED_OIDC_USERS")
    domains = env.parsed("ALLOWED_EMAIL_DOMAINS", empty, _domains)
    groups = env.parsed("ALLOWED_OIDC_GROUPS", empty, _groups)
    if not (everyone or users or subjects or domains or groups):
        warnings.append(
            "ALLOWED_OIDC_USERS, ALLOWED_EMAIL_DOMAINS and ALLOWED_OIDC_GROUPS are empty: nobody"
            " can log in with OIDC (ALLOWED_OIDC_USERS='*' allows everyone the provider"
            " authenticates)"
        )
    elif everyone:
        warnings.append(
            "ALLOWED_OIDC_USERS='*': everyone the OpenID Provider authenticates may sign in (with"
            " a multi-tenant provider, such as Google accounts, anyone who has an account)"
        )
    return OidcAccessSettings(users, subjects, everyone, domains, groups)
