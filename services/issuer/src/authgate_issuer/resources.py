"""RFC 8707 resource indicators: validation and canonical form, for /authorize and /token.

A resource must be an absolute URI without a fragment (RFC 8707 §2). MCP clients send the MCP
server's URL with varying case and trailing slashes, so values are canonicalised
(``authgate_shared.urls.canonical_uri``) and then compared exactly. Allowed resources are
``ALLOWED_RESOURCES`` when configured, else https URLs on ``BASE_DOMAIN`` or its subdomains
(checked on the parsed host, never by string prefix or suffix of the URL), else, in dev login
mode only, loopback http(s) URLs.
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from authgate_shared.urls import canonical_uri

from .errors import InvalidTarget
from .settings import IssuerSettings, is_loopback_host


@functools.lru_cache(maxsize=8)
def _configured(resources: tuple[str, ...]) -> frozenset[str]:
    allowed: set[str] = set()
    for value in resources:
        try:
            allowed.add(canonical_uri(value))
        except ValueError:
            continue  # a malformed configured value can never match anything
    return frozenset(allowed)


def _on_base_domain(host: str, base_domain: str) -> bool:
    # Label-wise: "evil-example.com" and "example.com.evil.net" are not "example.com".
    return host == base_domain or host.endswith("." + base_domain)


def is_allowed_resource(canonical: str, settings: IssuerSettings) -> bool:
    if settings.allowed_resources:
        return canonical in _configured(settings.allowed_resources)
    parts = urlsplit(canonical)
    host = (parts.hostname or "").lower()
    if settings.base_domain:
        return parts.scheme == "https" and _on_base_domain(host, settings.base_domain)
    if settings.dev_login:
        return parts.scheme in ("http", "https") and is_loopback_host(host)
    return False


def validate_resources(values: list[str], settings: IssuerSettings) -> list[str]:
    """The canonical forms of ``values`` (duplicates dropped, order kept); InvalidTarget when
    any value is malformed or not served by this gateway."""
    canonical: list[str] = []
    for value in values:
        try:
            resource = canonical_uri(value)
        except ValueError as exc:
            raise InvalidTarget(f"resource {exc} (RFC 8707 §2)") from None
        if not is_allowed_resource(resource, settings):
            raise InvalidTarget("resource is not a service of this gateway")
        if resource not in canonical:
            canonical.append(resource)
    return canonical
