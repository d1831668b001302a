"""The OIDC login's settings: the provider (by its issuer identifier), our client at it, and
which claims name the user and their groups.

Read from the issuer's ``EnvReader`` (``oidc_settings_from_env``), so a wrong variable here is
named in the same start-up error as every other one.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from authgate_shared.config import EnvReader

DEFAULT_SCOPES = ("openid", "email", "profile")
SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")  # RFC 6749 §3.3 scope-token
CLAIM = re.compile(r"[A-Za-z0-9_.:/-]{1,100}")
LOOPBACK_NAMES = frozenset({"localhost"})


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    """OIDC_ISSUER, exactly as the provider spells it (OpenID Connect Discovery §4.3 compares
    it byte for byte with the discovery document's ``issuer`` and every ID token's ``iss``)."""
    client_id: str
    client_secret: str = field(repr=False)
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    allow_insecure: bool = False
    """OIDC_ALLOW_INSECURE: plain http towards a provider on a loopback address (tests only)."""
    username_claim: str = "preferred_username"
    groups_claim: str = "groups"
    userinfo: bool = False
    """OIDC_USERINFO: also read the userinfo endpoint (claims the ID token lacks)."""
    timeout: float = 10.0
    """OIDC_TIMEOUT_MS, in seconds: the bound on every call to the provider."""


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def url_problem(url: str, *, allow_insecure: bool) -> str | None:
    """Why ``url`` may not be used towards the provider, or None: https, or http on a loopback
    host with OIDC_ALLOW_INSECURE (OpenID Connect Core §16.17: TLS for every request)."""
    parts = urlsplit(url)
    if not parts.hostname or parts.username or parts.password or parts.fragment:
        return f"{url!r} is not an absolute URL without userinfo and fragment"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and allow_insecure and is_loopback(parts.hostname):
        return None
    if parts.scheme == "http" and is_loopback(parts.hostname):
        return f"{url!r} uses http: set OIDC_ALLOW_INSECURE=true (tests on loopback only)"
    return f"{url!r} must use https"


def _issuer(value: str) -> str:
    # Discovery §4.3 / RFC 8414 §2: an https URL with no query or fragment. Kept verbatim (a
    # trailing slash included): the provider's own spelling is what its tokens carry.
    if urlsplit(value).query:
        raise ValueError(f"must not carry a query, got {value!r}")
    return value


def _scopes(value: str) -> tuple[str, ...]:
    scopes = tuple(dict.fromkeys(value.split()))
    for scope in scopes:
        if not SCOPE.fullmatch(scope):
            raise ValueError(f"{scope!r} is not a valid scope")
    if "openid" not in scopes:
        raise ValueError("must include openid (OpenID Connect Core §3.1.2.1)")
    return scopes


def _claim(value: str) -> str:
    if not CLAIM.fullmatch(value):
        raise ValueError(f"{value!r} is not a claim name")
    return value


def oidc_settings_from_env(env: EnvReader) -> OidcSettings:
    """The OIDC settings; problems go to ``env.problems``."""
    issuer = env.parsed("OIDC_ISSUER", "", _issuer)
    if not issuer and env.raw("OIDC_ISSUER") is None:
        env.problems.append(
            "OIDC_ISSUER is required: the OpenID Provider's issuer identifier, e.g."
            " https://accounts.google.com (its discovery document is read at start-up)"
        )
    allow_insecure = env.flag("OIDC_ALLOW_INSECURE", False)
    if issuer and (problem := url_problem(issuer, allow_insecure=allow_insecure)):
        env.problems.append(f"OIDC_ISSUER: {problem}")
    return OidcSettings(
        issuer=issuer,
        client_id=env.required("OIDC_CLIENT_ID", "our client id at the OpenID Provider"),
        client_secret=env.required("OIDC_CLIENT_SECRET", "our client secret at the provider"),
        scopes=env.parsed("OIDC_SCOPES", DEFAULT_SCOPES, _scopes),
        allow_insecure=allow_insecure,
        username_claim=env.parsed("OIDC_USERNAME_CLAIM", "preferred_username", _claim),
        groups_claim=env.parsed("OIDC_GROUPS_CLAIM", "groups", _claim),
        userinfo=env.flag("OIDC_USERINFO", False),
        timeout=env.integer("OIDC_TIMEOUT_MS", 10000, minimum=100) / 1000,
    )
