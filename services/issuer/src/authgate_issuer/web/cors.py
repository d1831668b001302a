"""CORS for the endpoints browser-based MCP clients call with ``fetch()`` (MCP Inspector, web
IDEs): the metadata documents under ``/.well-known/``, ``/jwks``, ``/register[/…]``, ``/token``,
``/revoke`` and ``/introspect``.

Each of those answers a CORS preflight (Fetch standard §3.2.2: ``OPTIONS`` with ``Origin`` and
``Access-Control-Request-Method``) with 204 and the allowed methods and headers, and carries
``Access-Control-Allow-Origin`` on every other answer, errors included, so a browser client can
read a 400/401/429 instead of an opaque network error. ``/authorize``, the consent page and
``/callback`` are navigations, not ``fetch()`` targets: they get no CORS headers at all (a page
of another origin must never read the consent page or its CSRF token).

No credentials, ever (``authgate_shared.cors``): these endpoints authenticate with
``Authorization`` or the body, never with cookies.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

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

DOCUMENT_METHODS = b"GET, HEAD"
FORM_METHODS = b"POST"
MANAGEMENT_METHODS = b"GET, PUT, DELETE"  # RFC 7592 §2
_EXACT = {
    "/jwks": DOCUMENT_METHODS,
    "/register": FORM_METHODS,
    "/token": FORM_METHODS,
    "/revoke": FORM_METHODS,
    "/introspect": FORM_METHODS,
}


def allowed_methods(path: str) -> bytes | None:
    """The methods a cross-origin page may use on ``path``; None: no CORS for it (navigations,
    internal routes). Every ``/.well-known/`` path counts, unknown ones included, so a client
    probing path-suffixed metadata reads the 404 and moves on."""
    methods = _EXACT.get(path)
    if methods is not None:
        return methods
    if path.startswith("/.well-known/"):
        return DOCUMENT_METHODS
    if path.startswith("/register/"):
        return MANAGEMENT_METHODS
    return None


def request_origin(scope: Scope) -> tuple[bytes | None, bool]:
    """The request's one ``Origin`` (None when absent or repeated) and whether it is a
    preflight (``OPTIONS`` that names the method of the request to come, Fetch §3.2.2)."""
    origin: bytes | None = None
    origins = 0
    asks_method = False
    for name, value in scope["headers"]:
        if name == b"origin":
            origin, origins = value, origins + 1
        elif name == b"access-control-request-method":
            asks_method = bool(value.strip())
    if origins != 1:
        return None, False
    return origin, asks_method and scope["method"] == "OPTIONS"


def answer_headers(policy: CorsPolicy, scope: Scope) -> list[Header]:
    """The CORS headers of a non-preflight answer to ``scope`` ([] when its path has none)."""
    if allowed_methods(scope["path"]) is None:
        return []
    return [*policy.headers(origin_of(scope["headers"])), EXPOSED]


def preflight_headers(policy: CorsPolicy, origin: bytes | None, methods: bytes) -> list[Header]:
    return [
        *policy.headers(origin),
        (ALLOW_METHODS, methods),
        (ALLOW_HEADERS, REQUEST_HEADERS),
        (MAX_AGE, PREFLIGHT_MAX_AGE),
        (b"content-length", b"0"),
    ]


class Cors:
    """Pure ASGI middleware: answers preflights, adds the CORS headers to every answer of a
    CORS path; every other path passes untouched."""

    def __init__(self, app: ASGIApp, policy: CorsPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        methods = allowed_methods(scope["path"]) if scope["type"] == "http" else None
        if methods is None:
            await self.app(scope, receive, send)
            return
        origin, preflight = request_origin(scope)
        if preflight:
            headers = preflight_headers(self.policy, origin, methods)
            await send({"type": "http.response.start", "status": 204, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        extra = [*self.policy.headers(origin), EXPOSED]
        merge = not self.policy.any_origin  # only then is there a Vary of ours to merge

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                if merge:
                    vary = [v for n, v in headers if n.lower() == b"vary"]
                    headers = [(n, v) for n, v in headers if n.lower() != b"vary"]
                    message["headers"] = [*headers, *_merge_vary(extra, vary)]
                else:
                    message["headers"] = [*headers, *extra]
            await send(message)

        await self.app(scope, receive, with_cors)


def _merge_vary(extra: list[Header], vary: list[bytes]) -> list[Header]:
    """``extra`` with a handler's own ``Vary`` values folded into one header (RFC 9110 §12.5.5)."""
    if not vary:
        return extra
    ours = [v for n, v in extra if n == b"vary"]
    merged = b", ".join([*vary, *ours])
    return [*(h for h in extra if h[0] != b"vary"), (b"vary", merged)]
