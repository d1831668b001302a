"""Canonical forms of URIs that are compared as strings (issuer, resource indicators).

MCP clients send resource and issuer URIs with upper-case schemes or hosts and with or without a
trailing slash; RFC 3986 §6.2.2 syntax-based normalisation makes those equal, after which the
comparison is exact (MCP authorization, "Canonical Server URI"; RFC 8707 §2).
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_uri(value: str) -> str:
    """Lower-case scheme and host, default port dropped, no trailing slash, no fragment.

    Raises ValueError for anything that is not an absolute URI with a host, or that has a
    fragment (RFC 8707 §2: "MUST NOT include a fragment component").
    """
    parts = urlsplit(value)
    if not parts.scheme or not parts.hostname:
        raise ValueError("must be an absolute URI with a host")
    if "#" in value:
        raise ValueError("must not contain a fragment")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not contain userinfo")
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError("has an invalid port") from exc
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    path = parts.path.rstrip("/")
    return urlunsplit((scheme, host, path, parts.query, ""))


def host_of(value: str) -> str:
    """The lower-cased host of a URI ('' when there is none)."""
    return (urlsplit(value).hostname or "").lower()
