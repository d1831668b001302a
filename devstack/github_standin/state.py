"""The GitHub stand-in's in-memory state: users, codes, tokens and injected faults."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass, field

from .orgs import OrgDirectory
from .tokens import TokenStore

CODE_SECONDS = 600  # GitHub: codes expire after 10 minutes, single use
LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
TOKEN_FAULTS = ("none", "slow", "error500", "malformed", "bad_code", "form_encoded")
MEMBERSHIP_FAULTS = ("none", "slow", "error500", "malformed", "rate_limited")
USER_FAULTS = (
    "none", "slow", "error500", "malformed", "unauthorized", "no_id", "string_id", "bad_login"
)  # fmt: skip


@dataclass
class Faults:
    token: str = "none"
    """Behaviour of POST /login/oauth/access_token."""
    user: str = "none"
    """Behaviour of GET /user."""
    delay: float = 30.0
    """Seconds a "slow" endpoint waits before answering normally."""
    membership: str = "none"
    """Behaviour of the organisation and team endpoints (org_routes)."""


@dataclass(frozen=True)
class IssuedCode:
    login: str
    redirect_uri: str
    expires: float
    scope: str = ""
    """The scopes asked for on the authorize URL (space-separated)."""


@dataclass
class StandinState:
    client_id: str = "authgate-dev"
    client_secret: str = "authgate-dev"
    users: dict[str, int] = field(default_factory=dict)
    """Selectable logins (lower-case -> id); empty: any valid login may be typed."""
    display: dict[str, str] = field(default_factory=dict)
    """Lower-case login -> its configured spelling (GitHub answers with the canonical case)."""
    callback_url: str | None = None
    """The OAuth app's callback URL; redirect_uri must start with it when set (as on GitHub)."""
    faults: Faults = field(default_factory=Faults)
    codes: dict[str, IssuedCode] = field(default_factory=dict)
    tokens: TokenStore = field(default_factory=TokenStore)
    """Access and refresh tokens (OAuth app or GitHub App mode) and request counters."""
    directory: OrgDirectory = field(default_factory=OrgDirectory)
    """Organisations and teams (orgs.py)."""

    def add_user(self, spec: str) -> None:
        """``login`` or ``login:id``."""
        login, _, raw_id = spec.strip().partition(":")
        if not LOGIN.fullmatch(login):
            raise ValueError(f"not a GitHub login: {login!r}")
        self.users[login.lower()] = int(raw_id) if raw_id else self.user_id(login)
        self.display[login.lower()] = login

    def canonical_login(self, typed: str) -> str | None:
        """The login as GitHub would spell it, or None when it may not log in."""
        typed = typed.strip()
        if not LOGIN.fullmatch(typed):
            return None
        if self.users:
            return self.display.get(typed.lower())
        return typed

    def user_id(self, login: str) -> int:
        """Stable per login (case-insensitive), like GitHub's numeric id."""
        if login.lower() in self.users:
            return self.users[login.lower()]
        return int(hashlib.sha256(login.lower().encode()).hexdigest()[:7], 16) + 1000

    def redirect_allowed(self, redirect_uri: str) -> bool:
        return self.callback_url is None or redirect_uri.startswith(self.callback_url)

    def issue_code(self, login: str, redirect_uri: str, *, scope: str = "") -> str:
        code = secrets.token_hex(10)
        expires = time.monotonic() + CODE_SECONDS
        self.codes[code] = IssuedCode(login, redirect_uri, expires, scope)
        return code

    def redeem(self, code: str) -> IssuedCode | None:
        issued = self.codes.pop(code, None)
        if issued is None or issued.expires < time.monotonic():
            return None
        return issued
