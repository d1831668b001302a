"""``POST /revoke``: token revocation (RFC 7009).

The client authenticates as at /token and may revoke only its own tokens. The answer is 200
whether or not anything was revoked (RFC 7009 §2.2: an invalid token is no error, and a client
must not learn whether another client's token exists). Revoking an access token deletes its
record; revoking a refresh token revokes its whole grant (RFC 7009 §2.1: "SHOULD also
invalidate all access tokens based on the same authorization grant"). Each revoked jti is
published on the revocation channel (from the Lua scripts in store.grants_lua).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ..context import IssuerContext, get_context
from ..oauth.client_auth import authenticate, read_form
from ..oauth.token_lookup import AccessToken, find_live_token
from ..store import grants
from ..web import logs, metrics
from ..web.responses import json_response

router = APIRouter()


@router.post("/revoke")
async def revoke(request: Request, ctx: IssuerContext = Depends(get_context)) -> Response:
    params = await read_form(request)
    client = await authenticate(ctx, request, params)
    found = await find_live_token(ctx, params.require("token"))
    if found is None or found.client_id != client.client_id:
        return json_response({})
    if isinstance(found, AccessToken):
        jti = str(found.claims["jti"])
        revoked = await grants.revoke_token(ctx.redis, jti)
        metrics.tokens_revoked(int(revoked), "revoke")
        logs.event("token_revoked", client_id=client.client_id, jti=jti, revoked=revoked)
    else:
        _, jtis = await grants.revoke_grant(ctx.redis, found.grant.grant_id)
        metrics.tokens_revoked(len(jtis), "revoke")
        logs.event(
            "grant_revoked",
            client_id=client.client_id,
            grant_id=found.grant.grant_id,
            tokens_revoked=len(jtis),
        )
    return json_response({})
