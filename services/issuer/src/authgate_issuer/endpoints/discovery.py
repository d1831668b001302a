"""``/.well-known/oauth-authorization-server`` (RFC 8414) and ``/.well-known/openid-configuration``.

The document only changes with configuration, so it is serialised once per process and served
with an ETag and a public cache lifetime.
"""

from __future__ import annotations

import hashlib
from functools import cache

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from ..context import context_of
from ..metadata import server_metadata
from ..settings import IssuerSettings

router = APIRouter()
CACHE_CONTROL = "public, max-age=3600"


@cache
def _document(settings: IssuerSettings) -> tuple[bytes, str]:
    body = orjson.dumps(server_metadata(settings))
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def cacheable_json(request: Request, body: bytes, etag: str, cache_control: str) -> Response:
    """200 with the body, or 304 when the client already holds this version (RFC 9110 §13.1.2)."""
    headers = {"ETag": etag, "Cache-Control": cache_control}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


@router.get("/.well-known/oauth-authorization-server")
@router.get("/.well-known/openid-configuration")
async def metadata(request: Request) -> Response:
    # No Depends: resolving one costs about a quarter of this handler's time in FastAPI.
    body, etag = _document(context_of(request).settings)
    return cacheable_json(request, body, etag, CACHE_CONTROL)
