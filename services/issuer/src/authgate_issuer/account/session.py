"""The account page's session cookie ``__Host-authgate-account`` and its CSRF token.

The cookie carries the GitHub numeric id and login of the user who signed in, the browser id
(consent_cookie.BROWSER_COOKIE) it was issued to, and its expiry, HMAC-signed with the consent
cookies' key (``cookie_key``) under a purpose of its own. It is short (SESSION_SECONDS) and
``__Host-`` (Secure, Path=/, no Domain: a sibling subdomain cannot plant one, RFC 6265bis
§4.1.3.2), HttpOnly and SameSite=Lax. It counts only beside the browser cookie it names, so a
session copied without that cookie, forged, or expired means signing in again.

Every form POST carries a synchronizer token, HMAC(browser id, session), compared in constant
time (OWASP CSRF cheat sheet), so only a page this browser was shown can post; a post the
browser marks as coming from another origin is refused as well (``same_origin``).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import orjson

# Purposes of their own ("account-session", "account-csrf"): nothing the consent cookies sign
# verifies here, nor the reverse.
from ..oauth.consent_cookie import mac, same

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


def new_session(github_id: str, login: str, browser: str, now: int) -> Session:
    return Session(github_id, login, browser, now + SESSION_SECONDS)


def cookie_value(key: bytes, session: Session) -> str:
    payload = session.payload
    return f"{payload}.{mac(key, 'account-session', payload)}"


def read_session(key: bytes, cookie: str | None, browser: str | None, now: int) -> Session | None:
    """The session of this cookie if it is genuine, unexpired and this browser's; else None."""
    if not cookie or not browser:
        return None
    payload, _, signature = cookie.partition(".")
    if not same(signature, mac(key, "account-session", payload)):
        return None
    try:
        data = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        github_id, login, owner, expires_at = data
    except (ValueError, TypeError, orjson.JSONDecodeError):
        return None
    if not (isinstance(expires_at, int) and isinstance(owner, str)):
        return None
    if expires_at <= now or not same(owner, browser):
        return None
    return Session(str(github_id), str(login), owner, expires_at)


def csrf_token(key: bytes, session: Session) -> str:
    return mac(key, "account-csrf", f"{session.browser}|{session.payload}")


def check_csrf(key: bytes, session: Session, token: str | None) -> bool:
    return token is not None and same(token, csrf_token(key, session))


def same_origin(headers: Mapping[str, str], issuer_url: str) -> bool:
    """Whether a form post comes from the issuer's own pages, by Fetch Metadata and ``Origin``
    when the browser sends them (defence in depth beside the CSRF token). A page with
    ``Referrer-Policy: no-referrer`` makes the browser send ``Origin: null`` on its own form
    posts (Fetch §3.1), so only a real other origin is refused; ``same-site`` is refused too, a
    sibling subdomain being another application."""
    if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = headers.get("origin", "null")
    issuer = urlsplit(issuer_url)
    return origin == "null" or origin == f"{issuer.scheme}://{issuer.netloc}"
