"""The MCP services behind the gateway (``ALLOWED_RESOURCES``), as issuer and verifier read them.

Each entry is a service's canonical resource URI (RFC 8707 §2; MCP authorization, "Canonical
Server URI"): ``https://mcp-a.example.com`` or, for services that share a host,
``https://tools.example.com/github``. An entry ``https://*.example.com`` is an explicit wildcard:
every single-label subdomain of ``example.com`` over https, each its own service (its origin).
Nothing is allowed by default: a wildcard exists only where an operator wrote one.

Both services map a URI to the service it belongs to the same way (``service_for``), so a token
issued for ``https://mcp-a.example.com/mcp`` carries the ``aud`` the verifier checks for that
service, ``https://mcp-a.example.com``: the longest service whose path is a whole-segment prefix
of the URI's path, compared on parsed components, never on string prefixes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from .urls import ambiguous_path, canonical_uri

WILDCARD = "*."


@dataclass(frozen=True, slots=True)
class _Wildcard:
    scheme: str
    parent: str
    """The domain below which one label is matched, e.g. ``example.com``."""
    port: int | None


@dataclass(frozen=True, slots=True)
class ServiceList:
    exact: frozenset[str]
    wildcards: tuple[_Wildcard, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.exact or self.wildcards)

    def service_for(self, uri: str) -> str | None:
        """The canonical URI of the service ``uri`` belongs to, or None.

        ``uri`` is canonicalised first; a URI with a query, or whose path could be read two ways
        (dot segments, percent-encoding, ``;``, backslashes), belongs to no service.
        """
        try:
            canonical = canonical_uri(uri)
        except ValueError:
            return None
        if canonical in self.exact:
            return canonical
        parts = urlsplit(canonical)
        if parts.query or (parts.path and ambiguous_path(parts.path)):
            return None
        origin = f"{parts.scheme}://{parts.netloc}"
        path = parts.path
        # Longest first: /a/b wins over /a. "/github" covers "/github/mcp", never "/githubX".
        while path:
            path = path.rsplit("/", 1)[0]
            if origin + path in self.exact:
                return origin + path
        if self._wildcard_origin(parts.scheme, parts.hostname or "", parts.port):
            return origin
        return None

    def __contains__(self, uri: object) -> bool:
        """True when ``uri`` (canonical) is itself a service: listed, or a wildcard's origin."""
        if not isinstance(uri, str):
            return False
        if uri in self.exact:
            return True
        parts = urlsplit(uri)
        return not parts.path and self._wildcard_origin(
            parts.scheme, parts.hostname or "", parts.port
        )

    def prefixes(self) -> dict[str, tuple[str, ...]]:
        """Path prefixes of listed services by ``host[:port]`` (services that share a host)."""
        result: dict[str, set[str]] = {}
        for uri in self.exact:
            parts = urlsplit(uri)
            if parts.path:
                result.setdefault(parts.netloc, set()).add(parts.path)
        return {host: tuple(paths) for host, paths in result.items()}

    def _wildcard_origin(self, scheme: str, host: str, port: int | None) -> bool:
        label, _, parent = host.partition(".")
        if not label or not parent:
            return False
        for wildcard in self.wildcards:
            default = 443 if wildcard.scheme == "https" else 80
            if (
                wildcard.scheme == scheme
                and wildcard.parent == parent
                and (wildcard.port or default) == (port or default)
            ):
                return True
        return False


def parse_services(entries: Iterable[str]) -> ServiceList:
    """``ALLOWED_RESOURCES`` entries -> ServiceList; ValueError naming every bad entry."""
    exact: set[str] = set()
    wildcards: list[_Wildcard] = []
    bad: list[str] = []
    for entry in entries:
        parts = urlsplit(entry)
        host = parts.hostname or ""
        if host.startswith(WILDCARD):
            rest = host[len(WILDCARD) :]
            try:
                canonical_uri(f"{parts.scheme}://{rest}")
                port = parts.port
            except ValueError:
                bad.append(entry)
                continue
            if parts.path.strip("/") or parts.query or "*" in rest or "." not in rest:
                bad.append(entry)
                continue
            wildcards.append(_Wildcard(parts.scheme.lower(), rest.lower(), port))
            continue
        try:
            canonical = canonical_uri(entry)
        except ValueError:
            bad.append(entry)
            continue
        split = urlsplit(canonical)
        plain = split.scheme in ("http", "https") and not split.query and "*" not in canonical
        if plain and not ambiguous_path(split.path):
            exact.add(canonical)
        else:
            bad.append(entry)
    if bad:
        raise ValueError(
            "entries must be absolute http(s) URIs without query, fragment, userinfo or"
            " ambiguous path (a wildcard is https://*.domain), got "
            + ", ".join(repr(b) for b in bad)
        )
    return ServiceList(frozenset(exact), tuple(wildcards))
