"""``/.well-known/oauth-authorization-server`` (RFC 8414) and ``/.well-known/openid-configuration``.

The document only changes with configuration, so it is serialised once per process and served
with an ETag and a public cache lifetime. ``GET`` is answered before the framework
(``web.fast_documents.IssuerApp``); this route serves what reaches it and describes it in OpenAPI.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..context import context_of
from ..web.fast_documents import documents_of, response

router = APIRouter()


@router.get("/.well-known/oauth-authorization-server")
@router.get("/.well-known/openid-configuration")
async def metadata(request: Request) -> Response:
    return response(request, documents_of(request).metadata(context_of(request).settings))
