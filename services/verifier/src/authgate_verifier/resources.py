"""The protected resource a forwarded request is judged for, and what that resource requires.

**Bound** (the default, ``RESOURCE_SOURCE=address``): each route's auth address names its
resource, ``/verify?resource=<canonical resource URI>``, written by the operator in the proxy's
route config and never by the client (Traefik calls the address as written; nginx's auth
subrequest carries no client query; Caddy's ``uri`` with a query replaces the client's). The
resource is then exactly the one the proxy routed the request to: X-Forwarded-Host, -Proto and
-Uri play no part, so no spelling of the client's path or Host can pick another service's
decision. An address that names no resource gets a 400 that says so.

**Derived** (``RESOURCE_SOURCE=forwarded-headers``, for proxy configs that cannot bind): the
query is ignored (Caddy's ``uri /verify`` appends the client's own query, so a client could
otherwise name the resource); ``X-Forwarded-Proto`` and ``X-Forwarded-Host`` name the resource
and, on a host whose services differ by path prefix, the path of ``X-Forwarded-Uri`` picks one,
but only when every proxy would route that spelling the same: anything a proxy may decode,
normalise or match differently (percent-encoding, ``;``, backslashes, dot or empty segments,
another case of a prefix, a prefix not followed by ``/``, ``?`` or the end) is a 400, never a
guess. This trusts the proxy to pin X-Forwarded-Host per route.

With ``ALLOWED_RESOURCES`` set, a resource either way must be one of the listed services, with
the scheme configured there (a proxy behind a TLS-terminating balancer sees ``http``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import parse_qsl, urlsplit

from authgate_shared.services import ServiceList
from authgate_shared.urls import ambiguous_path, canonical_uri

from .challenge import Challenges, challenges_for
from .settings import HOST_RE

MAX_CACHED = 1024
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Resource:
    uri: str
    """Canonical resource URI, e.g. ``https://mcp-a.example.com`` or ``https://h/github``."""
    metadata_url: str
    required_scopes: frozenset[str]
    challenges: Challenges


@dataclass(frozen=True, slots=True)
class _Host:
    """A forwarded host on which services differ by path prefix."""

    origin: str
    authority: str
    prefixes: tuple[str, ...]


class BadForwardedRequest(Exception):
    """The proxy did not say (or said ambiguously) which resource the request is for."""


def _remember(memo: dict[bytes, _T], key: bytes, value: _T) -> None:
    # Bounded: a flood of distinct values can only evict, never grow memory.
    if len(memo) >= MAX_CACHED:
        memo.clear()
    memo[key] = value


class ResourceResolver:
    def __init__(
        self,
        *,
        services: ServiceList,
        bind_from_address: bool,
        prefixes: Mapping[str, tuple[str, ...]],
        required_scopes: Mapping[str, frozenset[str]],
        default_scope: str = "",
    ) -> None:
        self._services = services
        self._bind_from_address = bind_from_address
        merged: dict[str, set[str]] = {h: set(p) for h, p in prefixes.items()}
        for host, paths in services.prefixes().items():
            merged.setdefault(host, set()).update(paths)
        # Longest first, so /a/b wins over /a.
        self._prefixes = {h: sorted(p, key=len, reverse=True) for h, p in merged.items()}
        self._scopes = required_scopes
        self._default_scope = default_scope
        self._bound: dict[bytes, Resource | str] = {}
        self._hosts: dict[bytes, Resource | _Host | str] = {}
        self._resources: dict[str, Resource] = {}

    def resolve(
        self, query: bytes, proto: bytes | None, host: bytes | None, uri: bytes | None
    ) -> Resource:
        """The resource of one /verify call (see the module docstring for the two sources)."""
        if not self._bind_from_address:
            return self.derive(proto, host, uri)
        return self.bound(query) or _raise(
            "the auth address names no resource: add ?resource=<the service's resource URI> to"
            " the proxy's ForwardAuth address for this route"
        )

    def bound(self, query: bytes) -> Resource | None:
        """The resource named by ``query`` (the auth address's), None when it names none."""
        found = self._bound.get(query)
        if found is None:
            found = self._bind(query) if query else ""
            _remember(self._bound, query, found)
        if isinstance(found, Resource):
            return found
        if found:
            raise BadForwardedRequest(found)
        return None

    def derive(self, proto: bytes | None, host: bytes | None, uri: bytes | None) -> Resource:
        """The resource the forwarded headers name (see the module docstring)."""
        if proto is None or host is None:
            raise BadForwardedRequest("X-Forwarded-Proto and X-Forwarded-Host are required")
        key = proto + b"://" + host
        found = self._hosts.get(key)
        if found is None:
            found = self._parse_host(proto.decode("latin-1"), host.decode("latin-1"))
            _remember(self._hosts, key, found)
        if isinstance(found, str):
            raise BadForwardedRequest(found)
        if isinstance(found, Resource):
            return found
        path = (uri or b"/").split(b"?", 1)[0].decode("latin-1")
        return self._service(found.origin, found.authority, _routed_prefix(path, found.prefixes))

    def for_metadata_path(
        self, query: bytes, proto: bytes | None, host: bytes | None, suffix: str
    ) -> Resource:
        """The resource whose RFC 9728 §3.1 metadata URL ends in ``suffix`` (``''`` = root):
        the one the route names, else the one the forwarded headers name (public metadata;
        nothing is authorised by it)."""
        resource = self.bound(query) or self.derive(proto, host, (suffix or "/").encode())
        if urlsplit(resource.uri).path != suffix:
            raise LookupError(suffix)
        return resource

    def _bind(self, query: bytes) -> Resource | str:
        """The resource named by the auth address, "" when it names none, or why it is bad."""
        try:
            params = parse_qsl(query.decode("ascii"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            return "the auth address's query is not valid"
        values = [value for name, value in params if name == "resource"]
        if not values:
            return ""
        if len(values) > 1:
            return "the auth address names more than one resource"
        try:
            uri = canonical_uri(values[0])
        except ValueError:
            return "the auth address's resource is not an absolute URI"
        parts = urlsplit(uri)
        if parts.scheme not in ("http", "https") or parts.query or ambiguous_path(parts.path):
            return "the auth address's resource is not a canonical http(s) resource URI"
        if self._services and uri not in self._services:
            return f"the auth address's resource {uri} is not listed in ALLOWED_RESOURCES"
        return self._resource(uri)

    def _parse_host(self, scheme: str, name: str) -> Resource | _Host | str:
        """A host's resource, or its prefixes when services share it, or why it is invalid."""
        scheme, name = scheme.lower(), name.lower()
        if scheme not in ("http", "https") or not HOST_RE.match(name):
            return "X-Forwarded-Proto or X-Forwarded-Host is invalid"
        try:
            origin = canonical_uri(f"{scheme}://{name}")
        except ValueError:
            return "X-Forwarded-Host is invalid"
        authority = origin.split("://", 1)[1]
        prefixes = self._prefixes.get(authority) or self._prefixes.get(name)
        if prefixes:
            return _Host(origin, authority, tuple(prefixes))
        try:
            return self._service(origin, authority, "")
        except BadForwardedRequest as exc:
            return str(exc)

    def _service(self, origin: str, authority: str, prefix: str) -> Resource:
        uri = origin + prefix
        if self._services:
            # The configured scheme, whatever the proxy saw (TLS terminated in front of it).
            configured = (f"{s}://{authority}{prefix}" for s in ("https", "http"))
            uri = next((u for u in configured if u in self._services), "")
            if not uri:
                raise BadForwardedRequest("the request is not for a service of this gateway")
        resource = self._resources.get(uri)
        if resource is None:
            resource = self._resource(uri)
            if len(self._resources) >= MAX_CACHED:
                self._resources.clear()
            self._resources[uri] = resource
        return resource

    def required_for(self, uri: str) -> frozenset[str]:
        """The scopes ``uri`` (canonical) requires: its REQUIRED_SCOPES entry, else ``*``'s."""
        parts = urlsplit(uri)
        target = parts.netloc + parts.path
        return self._scopes.get(target, self._scopes.get("*", frozenset()))

    def _resource(self, uri: str) -> Resource:
        # RFC 9728 §3.1: the well-known segment goes between the host and the resource's path.
        parts = urlsplit(uri)
        metadata_url = f"{parts.scheme}://{parts.netloc}/.well-known/oauth-protected-resource"
        required = self.required_for(uri)
        return Resource(
            uri=uri,
            metadata_url=metadata_url + parts.path,
            required_scopes=required,
            challenges=challenges_for(metadata_url + parts.path, required, self._default_scope),
        )


def _raise(message: str) -> Resource:
    raise BadForwardedRequest(message)


def _routed_prefix(path: str, prefixes: list[str] | tuple[str, ...]) -> str:
    """The prefix (or "" for the host's root) of a path on a host with prefixed services.

    Refuses what proxies could route differently from a case-sensitive whole-segment match:
    nginx and Traefik match ``/jira`` as a plain string prefix (``/jiraX``, ``/jira;x``), on the
    decoded path (``/%6Aira``), and Caddy case-insensitively (``/JIRA``).
    """
    if ambiguous_path(path):
        raise BadForwardedRequest("X-Forwarded-Uri is ambiguous")
    lowered = path.lower()
    for prefix in prefixes:
        if not lowered.startswith(prefix.lower()):
            continue
        rest = path[len(prefix) :]
        if path[: len(prefix)] != prefix or (rest and not rest.startswith("/")):
            raise BadForwardedRequest("X-Forwarded-Uri is ambiguous")
        return prefix
    return ""
