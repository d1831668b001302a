"""``/.well-known/oauth-authorization-server`` (RFC 8414).

``/.well-known/openid-configuration`` is not served (404): it promises OpenID Connect Discovery
(ID tokens, ``subject_types_supported``, ``id_token_signing_alg_values_supported``), which this
server does not do, and MCP clients look for the RFC 8414 document first.

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
async def metadata(request: Request) -> Response:
    return response(request, documents_of(request).metadata(context_of(request).settings))
