"""The account page's session cookie ``__Host-authgate-account`` and its CSRF token.

The cookie carries the GitHub numeric id and login of the user who signed in, the browser id
(consent_cookie.BROWSER_COOKIE) it was issued to, and its expiry, HMAC-signed with the consent
cookies' key (``cookie_key``) under a purpose of its own. It is short (SESSION_SECONDS) and
``__Host-`` (Secure, Path=/, no Domain: a sibling subdomain cannot plant one, RFC 6265bis
§4.1.3.2), HttpOnly and SameSite=Lax. It counts only beside the browser cookie it names, so a
session copied without that cookie, forged, or expired means signing in again.

Every form POST carries a synchronizer token, HMAC(browser id, session), compared in constant
time (OWASP CSRF cheat sheet), so only a page this browser was shown can post.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

import orjson

SESSION_COOKIE = "__Host-authgate-account"
SESSION_SECONDS = 15 * 60


@dataclass(frozen=True)
class Session:
    github_id: str
    login: str
    browser: str
    expires_at: int

    @property
    def payload(self) -> str:
        data = orjson.dumps([self.github_id, self.login, self.browser, self.expires_at])
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _same(a: str, b: str) -> bool:
    """Constant-time equality; bytes, since compare_digest refuses non-ASCII str."""
    return hmac.compare_digest(
        a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass")
    )


def _mac(key: bytes, purpose: str, value: str) -> str:
    # The purposes differ from the consent cookies' ("browser", "csrf", "approvals|…"), so no
    # value signed for one of them verifies as another.
    digest = hmac.new(key, f"{purpose}|{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def new_session(github_id: str, login: str, browser: str, now: int) -> Session:
    return Session(github_id, login, browser, now + SESSION_SECONDS)


def cookie_value(key: bytes, session: Session) -> str:
    payload = session.payload
    return f"{payload}.{_mac(key, 'account-session', payload)}"


def read_session(key: bytes, cookie: str | None, browser: str | None, now: int) -> Session | None:
    """The session of this cookie if it is genuine, unexpired and this browser's; else None."""
    if not cookie or not browser:
        return None
    payload, _, mac = cookie.partition(".")
    if not _same(mac, _mac(key, "account-session", payload)):
        return None
    try:
        data = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        github_id, login, owner, expires_at = data
    except (ValueError, TypeError, orjson.JSONDecodeError):
        return None
    if not (isinstance(expires_at, int) and isinstance(owner, str)):
        return None
    if expires_at <= now or not _same(owner, browser):
        return None
    return Session(str(github_id), str(login), owner, expires_at)


def csrf_token(key: bytes, session: Session) -> str:
    return _mac(key, "account-csrf", f"{session.browser}|{session.payload}")


def check_csrf(key: bytes, session: Session, token: str | None) -> bool:
    return token is not None and _same(token, csrf_token(key, session))
