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


# Characters with which one path can be read as two: percent-encoding (proxies route on the
# decoded path), ";" parameters (some servers strip them), backslashes (some normalise them to
# "/"). RFC 3986 §2.1, §3.3.
_AMBIGUOUS_CHARS = frozenset("%;\\")


def ambiguous_path(path: str) -> bool:
    """True unless ``path`` is an absolute path that every proxy and server reads the same way:
    printable ASCII, no percent-encoding, ``;`` or backslash, no empty, ``.`` or ``..`` segment
    (RFC 3986 §5.2.4 would remove or merge them). The empty path and "/" are unambiguous."""
    if path in ("", "/"):
        return False
    if not path.startswith("/") or not path.isascii() or not path.isprintable():
        return True
    if _AMBIGUOUS_CHARS.intersection(path) or " " in path:
        return True
    segments = path[1:].split("/")
    if segments[-1] == "":
        segments.pop()  # one trailing slash: "/github/" is "/github"
    return any(s in ("", ".", "..") for s in segments)
