"""The verifier's routes other than /verify: protected-resource metadata, health, metrics.

Off the hot path; kept apart so the application module holds routing and /verify only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from authgate_shared import __version__
from authgate_shared.errors import INVALID_REQUEST
from authgate_shared.redis.connection import REDIS_DOWN_ERRORS

from .challenge import Message, error_response
from .cors import direct_preflight
from .metadata import metadata_response

if TYPE_CHECKING:
    from .app import VerifierApp

Scope = dict[str, Any]
Send = Any
EMPTY_BODY: Message = {"type": "http.response.body", "body": b""}
NOT_FOUND_TEXT = ("not_found", "no such endpoint")
NOT_FOUND = error_response(404, *NOT_FOUND_TEXT)
METHOD_NOT_ALLOWED = error_response(405, INVALID_REQUEST, "method not allowed", allow="GET, HEAD")


async def protected_resource_metadata(
    app: VerifierApp, scope: Scope, send: Send, path: str
) -> None:
    headers, method = scope["headers"], scope["method"]
    if direct_preflight(method, headers):
        # A preflight for the document itself (clients send MCP-Protocol-Version).
        preflight = app.cors.metadata_preflight(headers)
        await send({"type": "http.response.start", "status": 204, "headers": preflight})
        await send(EMPTY_BODY)
        return
    if method not in ("GET", "HEAD"):
        await _send_pair(send, METHOD_NOT_ALLOWED)
        return
    settings, cors = app.settings, app.cors.metadata_headers(headers)
    answer = metadata_response(
        app.resources, scope, path, settings.issuer_url, settings.scopes_supported, cors
    )
    # A 404 a browser client can read, so it falls back from a path-suffixed URL.
    await _send_pair(send, answer or error_response(404, *NOT_FOUND_TEXT, more=cors))


async def health(app: VerifierApp, send: Send) -> None:
    uptime = int(app.clock() - app.started_at)
    try:
        await app.redis.ping()
        status, state, code = "healthy", "connected", 200
    except REDIS_DOWN_ERRORS:
        status, state, code = "unhealthy", "disconnected", 503
    body = {"status": status, "redis": state, "version": __version__, "uptime": uptime}
    await send_body(
        send, code, orjson.dumps(body), b"application/json", (b"cache-control", b"no-store")
    )


async def send_body(
    send: Send, status: int, body: bytes, content_type: bytes, *extra: tuple[bytes, bytes]
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _send_pair(send: Send, pair: tuple[Message, Message]) -> None:
    await send(pair[0])
    await send(pair[1])
