"""The CORS origin policy both services apply (Fetch standard §3.2, "CORS protocol").

``CORS_ALLOWED_ORIGINS`` (``config.parse_origins``) is ``*`` or a list of serialized origins.
With ``*`` every answer says ``Access-Control-Allow-Origin: *`` and does not vary by request.
With a list, an allowed request ``Origin`` is echoed (the configured spelling) and every answer
says ``Vary: Origin`` (Fetch §3.2.5: a shared cache must not hand one origin's answer to
another). ``Access-Control-Allow-Credentials`` is never sent: nothing here is meant to be called
with cookies, and ``*`` is only honoured by browsers without credentials (Fetch §3.2.3).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

Header = tuple[bytes, bytes]
ALLOW_ORIGIN = b"access-control-allow-origin"
ALLOW_METHODS = b"access-control-allow-methods"
ALLOW_HEADERS = b"access-control-allow-headers"
EXPOSE_HEADERS = b"access-control-expose-headers"
MAX_AGE = b"access-control-max-age"
VARY_ORIGIN: Header = (b"vary", b"Origin")
ANY_ORIGIN: Header = (ALLOW_ORIGIN, b"*")
# Request headers MCP clients send that are not CORS-safelisted (Fetch §2.2.2): the bearer
# token or Basic credentials, JSON bodies, and the MCP protocol version header.
REQUEST_HEADERS = b"Authorization, Content-Type, MCP-Protocol-Version"
# Chromium caps a preflight cache entry at 2 hours; longer would only be ignored.
PREFLIGHT_MAX_AGE = b"7200"
# Not CORS-safelisted response headers a client needs (Fetch §3.2.4): the RFC 6750 challenge of a
# 401/403 and the back-off of a 429/503.
EXPOSED: Header = (EXPOSE_HEADERS, b"WWW-Authenticate, Retry-After")


@dataclass(frozen=True, slots=True)
class CorsPolicy:
    """Which origins may read the answers; ``headers`` is the per-request part."""

    any_origin: bool
    allowed: dict[bytes, bytes] = field(default_factory=dict)
    """Lower-cased request ``Origin`` -> the value to echo."""

    @classmethod
    def of(cls, origins: Iterable[str]) -> CorsPolicy:
        listed = tuple(origins)
        if "*" in listed:
            return cls(any_origin=True)
        return cls(any_origin=False, allowed={o.lower().encode(): o.encode() for o in listed})

    def headers(self, origin: bytes | None) -> list[Header]:
        """``Access-Control-Allow-Origin`` (and ``Vary``) for a request from ``origin``."""
        if self.any_origin:
            return [ANY_ORIGIN]
        echoed = self.allowed.get(origin.lower()) if origin is not None else None
        if echoed is None:
            return [VARY_ORIGIN]
        return [(ALLOW_ORIGIN, echoed), VARY_ORIGIN]


def origin_of(headers: Iterable[Header]) -> bytes | None:
    """The request's one ``Origin``; None when absent or repeated (a browser sends one)."""
    found: bytes | None = None
    for name, value in headers:
        if name == b"origin":
            if found is not None:
                return None
            found = value
    return found
