"""What an MCP server of revision 2026-07-28 must do with ``Mcp-Method`` / ``Mcp-Name``: refuse
a request whose headers disagree with its JSON-RPC body (streamable HTTP transport).

Gateways decide on these headers without reading the body (Authgate's verifier does, per tool),
so the server behind them is what keeps a client from showing the gateway one tool and running
another. This ASGI middleware gives the demo server that check, so the end-to-end tests of the
verifier's tool rules run against an honest server. A POST of revision 2026-07-28 or later must
carry ``Mcp-Method`` (and ``Mcp-Name`` for a named call); headers sent with an older revision
are checked all the same (a mismatch is never passed on).
"""

from __future__ import annotations

from typing import Any

import orjson
from mcp.shared.inbound import decode_header_value

Scope = dict[str, Any]
Message = dict[str, Any]
ASGIApp = Any
HEADERS_REQUIRED_FROM = b"2026-07-28"
# The params member that Mcp-Name mirrors, per method.
NAMED = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
MAX_BODY = 4 * 1024 * 1024


def mismatch(headers: dict[bytes, bytes], body: bytes) -> str | None:
    """Why the headers disagree with the body, or None when they agree (or say nothing)."""
    method, name = headers.get(b"mcp-method"), headers.get(b"mcp-name")
    version = headers.get(b"mcp-protocol-version", b"")
    required = version >= HEADERS_REQUIRED_FROM
    if method is None and name is None and not required:
        return None
    try:
        message = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "the body is not JSON"
    if not isinstance(message, dict):
        return "Mcp-Method needs a single JSON-RPC message"
    body_method = message.get("method")
    if not isinstance(body_method, str):
        # A response (client to server) carries no method; it must not carry the headers.
        return None if method is None and name is None else "Mcp-Method on a message without one"
    if method is None:
        return "Mcp-Method is required"
    if method.decode("latin-1") != body_method:
        return "Mcp-Method does not match the body's method"
    field = NAMED.get(body_method)
    params = message.get("params")
    body_name = params.get(field) if field and isinstance(params, dict) else None
    if field is not None and body_name is None:
        return "the body names no target"
    # A value that is not plain ASCII travels as =?base64?...?= (decoded as the SDK does).
    if (None if name is None else decode_header_value(name.decode("latin-1"))) != body_name:
        return "Mcp-Name does not match the body"
    return None


class HeaderBodyCheck:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False) and size <= MAX_BODY
        body = b"".join(chunks)
        headers = dict(scope["headers"])
        names = [k for k, _ in scope["headers"] if k in (b"mcp-method", b"mcp-name")]
        reason = mismatch(headers, body)
        if size > MAX_BODY:
            reason = "the body is too large"
        elif len(names) != len(set(names)):
            reason = "repeated Mcp-Method or Mcp-Name header"
        if reason is not None:
            payload = {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": reason}}
            data = orjson.dumps(payload)
            start_headers = [(b"content-type", b"application/json")]
            start_headers.append((b"content-length", str(len(data)).encode()))
            await send({"type": "http.response.start", "status": 400, "headers": start_headers})
            await send({"type": "http.response.body", "body": data})
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                message: Message = await receive()
                return message
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
