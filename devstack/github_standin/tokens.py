"""The stand-in's user tokens: OAuth app tokens (``gho_``, never expire) and, in GitHub App mode,
expiring user tokens (``ghu_``) with rotating refresh tokens (``ghr_``).

GitHub's rules (docs.github.com, "Refreshing user access tokens"): a user access token expires
after ``expires_in`` (8 h), its refresh token after ``refresh_token_expires_in`` (6 months);
refreshing answers a new access token AND a new refresh token, and "once you use a refresh
token, that refresh token and the old user access token will no longer work". An unknown, used
or expired refresh token is ``bad_refresh_token``. Deleting the app authorization (``DELETE
/applications/{client_id}/grant``) deletes every token of that user for the app.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

APP_TOKEN_SECONDS = 28800  # GitHub: 8 hours
APP_REFRESH_SECONDS = 15897600  # GitHub: about 6 months


@dataclass
class AccessToken:
    login: str
    scope: str
    """Comma-separated, as GitHub answers it ("" for GitHub App tokens: permissions, no scopes)."""
    expires: float | None
    """time.monotonic() deadline; None for OAuth app tokens (they do not expire)."""
    refresh_token: str | None = None


@dataclass(frozen=True)
class RefreshToken:
    login: str
    expires: float
    access_token: str
    """The access token issued with it (dies when this refresh token is used)."""


@dataclass
class TokenStore:
    github_app: bool = False
    """Answer as a GitHub App with expiring user tokens (else as an OAuth app)."""
    token_lifetime: int = APP_TOKEN_SECONDS
    refresh_lifetime: int = APP_REFRESH_SECONDS
    access: dict[str, AccessToken] = field(default_factory=dict)
    refresh: dict[str, RefreshToken] = field(default_factory=dict)
    stats: Counter[str] = field(default_factory=Counter)
    """Request counters for ``GET /_standin/stats`` (tests count upstream refreshes)."""

    def issue(self, login: str, scope: str = "") -> dict[str, Any]:
        """A new token for ``login``: the token endpoint's success body."""
        if not self.github_app:
            token = "gho_" + secrets.token_urlsafe(27)
            scopes = ",".join(sorted(set(scope.replace(",", " ").split())))
            self.access[token] = AccessToken(login, scopes, None)
            return {"access_token": token, "scope": scopes, "token_type": "bearer"}
        now = time.monotonic()
        token = "ghu_" + secrets.token_urlsafe(27)
        refresh = "ghr_" + secrets.token_urlsafe(56)
        self.access[token] = AccessToken(login, "", now + self.token_lifetime, refresh)
        self.refresh[refresh] = RefreshToken(login, now + self.refresh_lifetime, token)
        return {
            "access_token": token,
            "expires_in": self.token_lifetime,
            "refresh_token": refresh,
            "refresh_token_expires_in": self.refresh_lifetime,
            "scope": "",
            "token_type": "bearer",
        }

    def use_refresh_token(self, refresh_token: str) -> dict[str, Any] | None:
        """Rotate: the old refresh token and its access token die; None for an unknown, used or
        expired refresh token (and always for an OAuth app: it has none)."""
        record = self.refresh.pop(refresh_token, None)
        if record is None or record.expires <= time.monotonic():
            return None
        self.access.pop(record.access_token, None)
        self.stats["refresh_rotations"] += 1
        return self.issue(record.login)

    def login_for(self, token: str) -> str | None:
        """The user of a live access token; None when unknown, revoked or expired."""
        record = self.access.get(token)
        if record is None or (record.expires is not None and record.expires <= time.monotonic()):
            return None
        return record.login

    def scope_of(self, token: str) -> str:
        record = self.access.get(token)
        return record.scope if record is not None else ""

    def expire_login(self, login: str) -> int:
        """Expire every access token of ``login`` now (refresh tokens stay usable), as if its
        lifetime had passed; how many."""
        past = time.monotonic() - 1
        mine = [r for r in self.access.values() if r.login.lower() == login.lower()]
        for record in mine:
            record.expires = past
        return len(mine)

    def revoke_token(self, token: str) -> bool:
        """``DELETE /applications/{client_id}/token``: that access token only."""
        return self.access.pop(token, None) is not None

    def revoke_grant(self, token: str) -> bool:
        """``DELETE /applications/{client_id}/grant``: every access and refresh token of the
        token's user for this app."""
        record = self.access.get(token)
        if record is None:
            return False
        login = record.login.lower()
        self.access = {k: v for k, v in self.access.items() if v.login.lower() != login}
        self.refresh = {k: v for k, v in self.refresh.items() if v.login.lower() != login}
        return True
