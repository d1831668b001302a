"""CORS at the gateway: preflights pass through to the MCP server; denials are readable.

A browser-based MCP client (MCP Inspector, a web IDE) sends a CORS preflight before its first
``POST /mcp`` (Fetch standard §3.2.2: ``OPTIONS`` with ``Origin`` and
``Access-Control-Request-Method``; a preflight never carries credentials, §4.8 step 5). Only the
MCP server knows its own CORS policy, so the verifier lets exactly such a request through: 200
with **no identity headers**, so the upstream sees an anonymous ``OPTIONS``. The method is read
from ``X-Forwarded-Method``, which every shipped proxy config sets from the real request and
overwrites when a client sends one (Traefik with ``trustForwardHeader=false``, Caddy's
``forward_auth``, nginx's ``proxy_set_header``); a request with ``Authorization`` is never a
preflight and is judged as usual. What a client gains: an unauthenticated ``OPTIONS`` on the MCP
server, which is what any browser sends anyway (docs/verifier.md, "CORS").

The 401/403 (and 400/503) the verifier answers carry ``Access-Control-Allow-Origin`` and expose
``WWW-Authenticate`` (Fetch §3.2.4: not CORS-safelisted, so invisible to a page unless exposed),
so a browser client can read the challenge and discover the authorization server.
"""

from __future__ import annotations

from collections.abc import Iterable

from authgate_shared.cors import (
    ALLOW_HEADERS,
    ALLOW_METHODS,
    EXPOSED,
    MAX_AGE,
    PREFLIGHT_MAX_AGE,
    REQUEST_HEADERS,
    CorsPolicy,
    Header,
    origin_of,
)
from authgate_shared.server.response_head import PREPARED_KEY, prepare_head

from .challenge import Message

_PASS_HEADERS: list[Header] = [(b"content-length", b"0")]
PREFLIGHT_PASS: tuple[Message, Message] = (
    {
        "type": "http.response.start",
        "status": 200,
        "headers": _PASS_HEADERS,
        PREPARED_KEY: prepare_head(_PASS_HEADERS),
    },
    {"type": "http.response.body", "body": b""},
)


def forwarded_preflight(headers: Iterable[Header]) -> bool:
    """Whether the request the proxy asks about is a CORS preflight: the proxy's one
    ``X-Forwarded-Method: OPTIONS``, one ``Origin``, an ``Access-Control-Request-Method``, and
    no ``Authorization`` (the caller checks that)."""
    return _preflight(headers, forwarded=True, method=b"")


def direct_preflight(method: str, headers: Iterable[Header]) -> bool:
    """Whether a request to the verifier itself (the metadata route) is a CORS preflight."""
    return _preflight(headers, forwarded=False, method=method.encode())


def _preflight(headers: Iterable[Header], *, forwarded: bool, method: bytes) -> bool:
    methods = origins = 0
    asks = False
    for name, value in headers:
        if name == b"x-forwarded-method" and forwarded:
            methods += 1
            method = value
        elif name == b"origin":
            origins += 1
        elif name == b"access-control-request-method":
            asks = bool(value.strip())
    return (methods == 1 or not forwarded) and method == b"OPTIONS" and origins == 1 and asks


class DenialCors:
    """The CORS headers of the verifier's own answers, per request origin.

    ``key`` is what the prepared deny responses are cached under: always ``b""`` with ``*``
    (no header is even looked at), else the allowed origin or ``b"-"`` for any other."""

    def __init__(self, policy: CorsPolicy) -> None:
        self.policy = policy
        self.varies = not policy.any_origin

    def key(self, headers: Iterable[Header]) -> bytes:
        if not self.varies:
            return b""
        origin = origin_of(headers)
        echoed = self.policy.allowed.get(origin.lower()) if origin is not None else None
        return echoed if echoed is not None else b"-"

    def headers(self, key: bytes) -> list[Header]:
        """For a denial: the origin and the exposed challenge."""
        allowed = self.policy.headers(key if key != b"-" else None)
        return [*allowed, EXPOSED] if not self.varies or key != b"-" else allowed

    def metadata_headers(self, headers: Iterable[Header]) -> list[Header]:
        """For the protected resource metadata (a public document): the origin only."""
        return self.policy.headers(origin_of(headers))

    def metadata_preflight(self, headers: Iterable[Header]) -> list[Header]:
        """The answer to a preflight for the metadata (clients send MCP-Protocol-Version)."""
        return [
            *self.metadata_headers(headers),
            (ALLOW_METHODS, b"GET, HEAD"),
            (ALLOW_HEADERS, REQUEST_HEADERS),
            (MAX_AGE, PREFLIGHT_MAX_AGE),
            (b"content-length", b"0"),
        ]
