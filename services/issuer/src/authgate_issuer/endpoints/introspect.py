"""``POST /introspect``: token introspection (RFC 7662).

The caller authenticates as at /token (RFC 7662 §2.1) and learns only about its own tokens:
anything unknown, expired, revoked or another client's is ``{"active": false}`` and nothing
else (§2.2). Public clients may introspect their own tokens: the token is itself the bearer
credential, so the answer tells them nothing they could not already use.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from authgate_shared.claims import GATEWAY_AUDIENCE, subject

from ..context import IssuerContext, get_context
from ..oauth.client_auth import authenticate, read_form
from ..oauth.token_lookup import AccessToken, RefreshToken, find_live_token
from ..web.responses import json_response

router = APIRouter()
CLAIMS = ("scope", "client_id", "exp", "iat", "sub", "aud", "iss", "jti")


def _refresh_body(ctx: IssuerContext, found: RefreshToken) -> dict[str, Any]:
    grant = found.grant
    return {
        "active": True,
        "scope": grant.scope,
        "client_id": grant.client_id,
        "username": grant.username,
        "token_type": "refresh_token",
        "exp": grant.expiry,
        "iat": grant.refresh_issued_at,
        "sub": subject(grant.username),
        "aud": grant.resources or [GATEWAY_AUDIENCE],
        "iss": ctx.settings.issuer_url,
    }


@router.post("/introspect")
async def introspect(request: Request, ctx: IssuerContext = Depends(get_context)) -> Response:
    params = await read_form(request)
    client = await authenticate(ctx, request, params)
    found = await find_live_token(ctx, params.require("token"))
    if found is None or found.client_id != client.client_id:
        return json_response({"active": False})
    if isinstance(found, AccessToken):
        body: dict[str, Any] = {"active": True, "token_type": "Bearer"}
        body.update({name: found.claims[name] for name in CLAIMS if name in found.claims})
        body["username"] = found.claims.get("github_username")
        return json_response(body)
    return json_response(_refresh_body(ctx, found))
