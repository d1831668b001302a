"""The public documents every client fetches: RFC 8414 metadata and the JWK Set (RFC 7517 §5).

They change only with configuration or a key rotation, so each is serialised once (with its
ETag) and ``GET`` is answered before the framework (``IssuerApp``): routing, dependency
resolution and five middlewares cost ~50 times the work of sending precomputed bytes. The
answer is the one the routes in ``endpoints.discovery``/``endpoints.jwks`` give, headers
included (security headers, CORS headers, request id, metrics), and those routes serve every
other method and the OpenAPI description.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from authgate_shared.cors import EXPOSED, CorsPolicy

from ..context import IssuerContext
from ..oauth.server_metadata import server_metadata
from ..settings import IssuerSettings
from ..store.keystore import KeyRing
from . import request_id
from .middleware import SECURITY_HEADERS

# Only RFC 8414's name: /.well-known/openid-configuration promises OpenID Connect Discovery
# (ID tokens, subject_types_supported, ...), which this server does not do, and MCP clients try
# oauth-authorization-server first (MCP 2025-11-25 "Authorization Server Metadata Discovery").
METADATA_PATHS = ("/.well-known/oauth-authorization-server",)
JWKS_PATH = "/jwks"
METADATA_CACHE_CONTROL = "public, max-age=3600"
# Short enough that a rotated-in key reaches caches long before it signs anything widely used.
JWKS_CACHE_CONTROL = "public, max-age=300"


@dataclass(frozen=True)
class Document:
    body: bytes
    etag: str
    cache_control: str

    @classmethod
    def of(cls, body: bytes, cache_control: str) -> Document:
        return cls(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"', cache_control)

    def matches(self, if_none_match: str | None) -> bool:
        """RFC 9110 §13.1.2: a list of entity tags or ``*``, compared weakly."""
        if if_none_match is None:
            return False
        tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
        return "*" in tags or self.etag in tags

    def headers(self, not_modified: bool) -> list[tuple[bytes, bytes]]:
        headers = [(b"etag", self.etag.encode()), (b"cache-control", self.cache_control.encode())]
        if not not_modified:
            headers += [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(self.body)).encode()),
            ]
        return headers


class Documents:
    """Each document serialised once per settings object / key ring (compared by identity:
    a key rotation replaces ``ctx.keys`` with a new ring)."""

    def __init__(self) -> None:
        self._metadata: tuple[IssuerSettings, Document] | None = None
        self._jwks: tuple[KeyRing, Document] | None = None

    def metadata(self, settings: IssuerSettings) -> Document:
        if self._metadata is None or self._metadata[0] is not settings:
            body = orjson.dumps(server_metadata(settings))
            self._metadata = settings, Document.of(body, METADATA_CACHE_CONTROL)
        return self._metadata[1]

    def jwks(self, keys: KeyRing) -> Document:
        if self._jwks is None or self._jwks[0] is not keys:
            self._jwks = keys, Document.of(keys.jwks(), JWKS_CACHE_CONTROL)
        return self._jwks[1]

    def for_path(self, path: str, ctx: IssuerContext) -> Document | None:
        if path in METADATA_PATHS:
            return self.metadata(ctx.settings)
        if path == JWKS_PATH:
            return self.jwks(ctx.keys)
        return None


def response(request: Request, document: Document) -> Response:
    """The framework route's answer: 200, or 304 when the client holds this version."""
    not_modified = document.matches(request.headers.get("if-none-match"))
    if not_modified:
        return Response(
            status_code=304,
            headers={"ETag": document.etag, "Cache-Control": document.cache_control},
        )
    return Response(
        document.body,
        media_type="application/json",
        headers={"ETag": document.etag, "Cache-Control": document.cache_control},
    )


def documents_of(request: Request) -> Documents:
    app: IssuerApp = request.app
    return app.documents


class IssuerApp(FastAPI):
    """FastAPI, with the precomputed documents answered before its middleware stack."""

    def __init__(self, *, cors: CorsPolicy | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.documents = Documents()
        self.cors = cors or CorsPolicy.of(("*",))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            ctx: IssuerContext | None = getattr(self.state, "ctx", None)
            document = self.documents.for_path(scope["path"], ctx) if ctx is not None else None
            if document is not None:
                await self._send(scope, send, document)
                return
        await super().__call__(scope, receive, send)

    async def _send(self, scope: Scope, send: Send, document: Document) -> None:
        started = time.perf_counter()
        if_none_match = origin = None
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                if_none_match = value.decode("latin-1")
            elif name == b"origin":
                origin = value
        not_modified = document.matches(if_none_match)
        status = 304 if not_modified else 200
        headers = document.headers(not_modified)
        headers += SECURITY_HEADERS
        # What web.cors.Cors adds to the framework's answer of the same path.
        headers += self.cors.headers(origin)
        headers.append(EXPOSED)
        headers.append((request_id.HEADER, request_id.for_scope(scope).encode("ascii")))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if not_modified else document.body})
        metrics = getattr(self.state, "metrics", None)
        if metrics is not None:
            metrics.observe(scope["path"], "GET", status, time.perf_counter() - started)
