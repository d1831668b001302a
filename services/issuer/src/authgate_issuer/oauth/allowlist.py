"""Who may log in: ``ALLOWED_GITHUB_USERS``.

GitHub logins are case-insensitive and unique at any one moment, so the comparison is on the
trimmed, lower-cased login (settings stores the list in that form). ``*`` allows every GitHub
user; an empty list allows nobody (fail closed: a forgotten variable must not open the gateway).
"""

from __future__ import annotations

from ..settings import IssuerSettings


def is_allowed(login: str, settings: IssuerSettings) -> bool:
    if settings.github.allow_all_users:
        return True
    normalised = login.strip().lower()
    return bool(normalised) and normalised in settings.github.allowed_users
