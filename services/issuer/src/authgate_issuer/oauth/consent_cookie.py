"""Signed consent cookies: the browser id (CSRF binding) and remembered approvals.

* ``__Host-authgate-browser``: a random browser id, HMAC-signed. The consent form's CSRF token is
  HMAC(browser id, consent request id), so only the browser that was shown the page can answer it
  (a synchronizer token tied to a ``__Host-`` cookie: Secure, Path=/, no Domain, so a sibling
  subdomain cannot plant one).
* ``__Host-authgate-consent``: approvals remembered for *this browser and one client*, signed with
  the browser id mixed in, so a cookie copied to another browser, or an approval of client A,
  never skips the consent page for client B (the MCP "confused deputy" rule). Each approval
  also names its client id and scope, so the account page can list and forget them.

The HMAC key is ``COOKIE_SECRET`` or is derived (HKDF, RFC 5869) from the current signing key, so
every replica sharing the keys agrees without another secret to distribute.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

import orjson
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from authgate_shared.runtime import RandomBytes

from ..settings import IssuerSettings
from ..store.keystore import KeyRing
from .authorization_request import AuthorizationRequest
from .credentials import new_id

BROWSER_COOKIE = "__Host-authgate-browser"
APPROVALS_COOKIE = "__Host-authgate-consent"
BROWSER_COOKIE_SECONDS = 400 * 86400  # the longest lifetime browsers accept
REMEMBER_SECONDS = 30 * 86400
MAX_APPROVALS = 20
MAX_APPROVALS_BYTES = 3000  # keeps the cookie well under the 4 KB browsers allow
_derived: dict[str, bytes] = {}


def cookie_key(settings: IssuerSettings, keys: KeyRing) -> bytes:
    if settings.cookie_secret is not None:
        return settings.cookie_secret
    kid = keys.current.kid
    if kid not in _derived:
        material = keys.current.key
        if isinstance(material, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            material = material.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        hkdf = HKDF(hashes.SHA256(), 32, salt=None, info=b"authgate consent cookies v1")
        _derived[kid] = hkdf.derive(bytes(material))
    return _derived[kid]


def mac(key: bytes, purpose: str, value: str) -> str:
    """HMAC-SHA256 of ``value`` for one ``purpose`` (base64url): a value signed for one purpose
    never verifies for another (the account page's session uses purposes of its own)."""
    digest = hmac.new(key, f"{purpose}|{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def same(a: str, b: str) -> bool:
    """Constant-time equality of two signatures or tokens. As bytes: ``compare_digest`` raises
    on non-ASCII ``str``, which a client can send in a cookie or a form."""
    return hmac.compare_digest(
        a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass")
    )


def new_browser(key: bytes, random: RandomBytes) -> tuple[str, str]:
    """(browser id, cookie value)."""
    browser = new_id(random, 32)
    return browser, f"{browser}.{mac(key, 'browser', browser)}"


def read_browser(key: bytes, cookie: str | None) -> str | None:
    if not cookie:
        return None
    browser, _, signature = cookie.partition(".")
    return browser if same(signature, mac(key, "browser", browser)) else None


def csrf_token(key: bytes, browser: str, request_id: str) -> str:
    return mac(key, "csrf", f"{browser}|{request_id}")


def check_csrf(key: bytes, browser: str, request_id: str, token: str) -> bool:
    return same(token, csrf_token(key, browser, request_id))


def fingerprint(request: AuthorizationRequest) -> str:
    """What an approval covers: the client, its scope and its resources (a wider request asks
    again)."""
    shape = orjson.dumps([request.client_id, request.scope, sorted(request.resources)])
    return hashlib.sha256(shape).hexdigest()[:32]


@dataclass(frozen=True)
class Approval:
    """One remembered approval, as the account page lists it."""

    fingerprint: str
    expires_at: int
    client_id: str
    """"" for an approval remembered before the cookie named its client."""
    scope: str


def _entries(key: bytes, browser: str, cookie: str | None, now: int) -> list[Approval]:
    """Unexpired approvals of this browser, oldest first; [] if absent or forged. An entry is
    ``[expiry, client id, scope]``, or the bare expiry older cookies hold."""
    if not cookie:
        return []
    payload, _, signature = cookie.partition(".")
    if not same(signature, mac(key, f"approvals|{browser}", payload)):
        return []
    try:
        data = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        return []
    if not isinstance(data, dict):
        return []
    found = []
    for fp, value in data.items():
        entry = value if isinstance(value, list) else [value, "", ""]
        if len(entry) == 3 and isinstance(entry[0], int) and entry[0] > now:
            found.append(Approval(fp, entry[0], str(entry[1]), str(entry[2])))
    return sorted(found, key=lambda a: a.expires_at)


def read_approvals(key: bytes, browser: str, cookie: str | None, now: int) -> dict[str, int]:
    """Unexpired approvals (fingerprint -> expiry) of this browser; {} if absent or forged."""
    return {a.fingerprint: a.expires_at for a in _entries(key, browser, cookie, now)}


def list_approvals(key: bytes, browser: str, cookie: str | None, now: int) -> list[Approval]:
    """This browser's unexpired approvals, newest first (the account page)."""
    return _entries(key, browser, cookie, now)[::-1]


def is_remembered(
    key: bytes, browser: str, cookie: str | None, request: AuthorizationRequest, now: int
) -> bool:
    return fingerprint(request) in read_approvals(key, browser, cookie, now)


def _encode(key: bytes, browser: str, approvals: list[Approval]) -> str:
    """The cookie value of ``approvals`` (oldest first); the oldest are dropped past the cap or
    when the value would pass MAX_APPROVALS_BYTES (long client id URLs)."""
    kept = approvals[-MAX_APPROVALS:]
    while True:
        data = {a.fingerprint: [a.expires_at, a.client_id, a.scope] for a in kept}
        payload = base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()
        if len(payload) <= MAX_APPROVALS_BYTES or len(kept) <= 1:
            return f"{payload}.{mac(key, f'approvals|{browser}', payload)}"
        kept = kept[1:]


def remember(
    key: bytes, browser: str, cookie: str | None, request: AuthorizationRequest, now: int
) -> str:
    """The new approvals cookie value with ``request`` added (oldest dropped past the cap)."""
    mark = fingerprint(request)
    approvals = [a for a in _entries(key, browser, cookie, now) if a.fingerprint != mark]
    approvals.append(Approval(mark, now + REMEMBER_SECONDS, request.client_id, request.scope))
    return _encode(key, browser, approvals)


def forget(key: bytes, browser: str, cookie: str | None, fingerprints: set[str], now: int) -> str:
    """The approvals cookie value without ``fingerprints`` ("" when none is left)."""
    kept = [a for a in _entries(key, browser, cookie, now) if a.fingerprint not in fingerprints]
    return _encode(key, browser, kept) if kept else ""


def set_cookie_header(name: str, value: str, max_age: int) -> str:
    # __Host- prefix requirements (RFC 6265bis §4.1.3.2): Secure, Path=/, no Domain.
    return f"{name}={value}; Max-Age={max_age}; Path=/; Secure; HttpOnly; SameSite=Lax"
