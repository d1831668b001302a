"""``GET /jwks``: the public JWK Set (RFC 7517 §5), current and previous signing keys."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..context import context_of
from .discovery import cacheable_json

router = APIRouter()
# Short enough that a rotated-in key reaches caches long before it signs anything widely used.
CACHE_CONTROL = "public, max-age=300"


@router.get("/jwks")
async def jwks(request: Request) -> Response:
    # No Depends: resolving one costs about a quarter of this handler's time in FastAPI.
    body = context_of(request).keys.jwks()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return cacheable_json(request, body, etag, CACHE_CONTROL)
