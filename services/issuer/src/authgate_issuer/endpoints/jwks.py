"""``GET /jwks``: the public JWK Set (RFC 7517 §5), current and previous signing keys.

Answered before the framework (``web.fast_documents.IssuerApp``); this route serves what reaches it
and describes it in OpenAPI.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..context import context_of
from ..web.fast_documents import documents_of, response

router = APIRouter()


@router.get("/jwks")
async def jwks(request: Request) -> Response:
    return response(request, documents_of(request).jwks(context_of(request).keys))
