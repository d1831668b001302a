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

from cryptography.hazmat.primitives.asymmetric import ec

from authgate_shared.config import EnvReader
from authgate_shared.keys import PrivateKey, load_private_pem, pem_text

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
    """OIDC_CLIENT_SECRET: client_secret_basic (or _post); empty with a client key."""
    client_key: PrivateKey | None = field(default=None, repr=False)
    """OIDC_CLIENT_PRIVATE_KEY: private_key_jwt (RFC 7523 §2.2) instead of a secret."""
    client_key_id: str | None = None
    """OIDC_CLIENT_KEY_ID: the ``kid`` of that key as registered at the provider."""
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    allow_insecure: bool = False
    """OIDC_ALLOW_INSECURE: plain http towards a provider on a loopback address (tests only)."""
    username_claim: str = "preferred_username"
    groups_claim: str = "groups"
    userinfo: bool = False
    """OIDC_USERINFO: also read the userinfo endpoint (claims the ID token lacks)."""
    timeout: float = 10.0
    """OIDC_TIMEOUT_MS, in seconds: the bound on every call to the provider."""

    @property
    def client_key_algorithm(self) -> str | None:
        """The assertion's algorithm: ES256 for an EC P-256 key, RS256 for RSA."""
        if self.client_key is None:
            return None
        return "ES256" if isinstance(self.client_key, ec.EllipticCurvePrivateKey) else "RS256"


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


def _client_key(value: str) -> PrivateKey:
    for algorithm in ("RS256", "ES256"):
        try:
            return load_private_pem(pem_text(value), algorithm)
        except ValueError:
            continue
    raise ValueError("must be a PEM private key: RSA of at least 2048 bits, or EC P-256")


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
    client_id = env.required("OIDC_CLIENT_ID", "our client id at the OpenID Provider")
    client_key = env.parsed("OIDC_CLIENT_PRIVATE_KEY", None, _client_key)
    if env.raw("OIDC_CLIENT_PRIVATE_KEY") is None:
        secret = env.required(
            "OIDC_CLIENT_SECRET",
            "our client secret at the provider (or OIDC_CLIENT_PRIVATE_KEY for private_key_jwt)",
        )
    else:
        secret = ""
        if env.raw("OIDC_CLIENT_SECRET") is not None:
            env.problems.append("OIDC_CLIENT_SECRET and OIDC_CLIENT_PRIVATE_KEY: set only one")
    return OidcSettings(
        issuer=issuer,
        client_id=client_id,
        client_secret=secret,
        client_key=client_key,
        client_key_id=env.text("OIDC_CLIENT_KEY_ID"),
        scopes=env.parsed("OIDC_SCOPES", DEFAULT_SCOPES, _scopes),
        allow_insecure=allow_insecure,
        username_claim=env.parsed("OIDC_USERNAME_CLAIM", "preferred_username", _claim),
        groups_claim=env.parsed("OIDC_GROUPS_CLAIM", "groups", _claim),
        userinfo=env.flag("OIDC_USERINFO", False),
        timeout=env.integer("OIDC_TIMEOUT_MS", 10000, minimum=100) / 1000,
    )
