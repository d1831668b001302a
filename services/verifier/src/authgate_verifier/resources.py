"""The protected resource a forwarded request is for, and what that resource requires.

The proxy's ``X-Forwarded-Proto`` and ``X-Forwarded-Host`` name the resource; its canonical URI
(RFC 3986 §6.2.2, as the issuer canonicalises ``resource`` per RFC 8707 §2) is what a token's
``aud`` must contain. Where several MCP services share a host, a configured path prefix matched
against ``X-Forwarded-Uri`` is part of the resource.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from authgate_shared.urls import canonical_uri

from .challenge import Challenges, challenges_for
from .settings import HOST_RE

MAX_CACHED_HOSTS = 1024
# Path spellings an upstream router may decode or normalise differently from a plain prefix
# match (RFC 3986 §5.2.4 dot-segments, encoded slashes/dots, backslashes): refused outright
# on hosts with prefixes, so /a/../b can never be checked as /a but routed to /b.
_AMBIGUOUS = ("/./", "/../", "%2e", "%2f", "%5c", "\\", "//")


@dataclass(frozen=True, slots=True)
class Resource:
    uri: str
    """Canonical resource URI, e.g. ``https://mcp-a.example.com`` or ``https://h/github``."""
    metadata_url: str
    required_scopes: frozenset[str]
    challenges: Challenges


@dataclass(frozen=True, slots=True)
class _Host:
    origin: str
    root: Resource
    prefixed: tuple[tuple[str, Resource], ...]


class BadForwardedRequest(Exception):
    """The proxy did not say (or said ambiguously) which resource the request is for."""


class ResourceResolver:
    def __init__(
        self,
        prefixes: Mapping[str, tuple[str, ...]],
        required_scopes: Mapping[str, frozenset[str]],
    ) -> None:
        self._prefixes = prefixes
        self._scopes = required_scopes
        # Bounded memo of (proto, host) -> parsed host: canonicalising is the slow part, and a
        # flood of random Host values can only evict, never grow memory.
        self._hosts: dict[tuple[bytes, bytes], _Host] = {}

    def resolve(self, proto: bytes | None, host: bytes | None, uri: bytes | None) -> Resource:
        if proto is None or host is None:
            raise BadForwardedRequest("X-Forwarded-Proto and X-Forwarded-Host are required")
        entry = self._hosts.get((proto, host))
        if entry is None:
            entry = self._parse_host(proto, host)
            if len(self._hosts) >= MAX_CACHED_HOSTS:
                self._hosts.clear()
            self._hosts[(proto, host)] = entry
        if not entry.prefixed:
            return entry.root
        path = (uri or b"/").split(b"?", 1)[0].decode("latin-1")
        lowered = path.lower()
        if any(s in lowered for s in _AMBIGUOUS) or path.endswith(("/.", "/..")):
            raise BadForwardedRequest("X-Forwarded-Uri is ambiguous")
        for prefix, resource in entry.prefixed:
            if path == prefix or path.startswith(prefix + "/"):
                return resource
        return entry.root

    def for_metadata_path(self, proto: bytes | None, host: bytes | None, suffix: str) -> Resource:
        """The resource whose RFC 9728 §3.1 metadata URL ends in ``suffix`` (``''`` = root)."""
        root = self.resolve(proto, host, b"/")
        if not suffix:
            return root
        entry = self._hosts[(proto or b"", host or b"")]
        for prefix, resource in entry.prefixed:
            if suffix == prefix:
                return resource
        raise LookupError(suffix)

    def _parse_host(self, proto: bytes, host: bytes) -> _Host:
        scheme, name = proto.decode("latin-1").lower(), host.decode("latin-1").lower()
        if scheme not in ("http", "https") or not HOST_RE.match(name):
            raise BadForwardedRequest("X-Forwarded-Proto or X-Forwarded-Host is invalid")
        try:
            origin = canonical_uri(f"{scheme}://{name}")
        except ValueError as exc:
            raise BadForwardedRequest("X-Forwarded-Host is invalid") from exc
        authority = origin.split("://", 1)[1]
        prefixes = self._prefixes.get(authority, ()) or self._prefixes.get(name, ())
        return _Host(
            origin=origin,
            root=self._resource(origin, authority, ""),
            prefixed=tuple((p, self._resource(origin, authority, p)) for p in prefixes),
        )

    def _resource(self, origin: str, authority: str, prefix: str) -> Resource:
        # RFC 9728 §3.1: the well-known segment goes between the host and the resource's path.
        metadata_url = f"{origin}/.well-known/oauth-protected-resource{prefix}"
        required = self._scopes.get(authority + prefix, self._scopes.get("*", frozenset()))
        return Resource(
            uri=origin + prefix,
            metadata_url=metadata_url,
            required_scopes=required,
            challenges=challenges_for(metadata_url, required),
        )
