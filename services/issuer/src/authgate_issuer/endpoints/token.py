"""``POST /token``: the token endpoint (OAuth 2.1 §3.2, §4.1.3, §4.3).

Form-encoded only; every response carries ``Cache-Control: no-store`` (RFC 6749 §5.1); errors
are RFC 6749 §5.2 JSON (plus RFC 8707 ``invalid_target``), never a framework 422.

The request's own reads (client; the grant a refresh token names; the code, taken) share one
Redis round trip with its rate-limit hit (``token_grants.prefetch``): this is the issuer's
busiest route.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from .. import token_grants
from ..context import context_of
from ..oauth import client_auth
from ..oauth.client_auth import read_form
from ..oauth.errors import UnsupportedGrantType
from ..store.grants import grant_id_of_refresh_token
from ..web.rate_limits import address_hit
from ..web.responses import json_response
from ..web.routing import DirectRoute

router = APIRouter(route_class=DirectRoute)


@router.post("/token")
async def token(request: Request) -> Response:
    ctx = context_of(request)
    params = await read_form(request)
    credentials = client_auth.presented(request, params)
    grant_type = params.get("grant_type")
    refresh = params.get("refresh_token") if grant_type == "refresh_token" else None
    code = params.get("code") if grant_type == "authorization_code" else None
    hit = address_hit(ctx, request, "token", ctx.settings.token_rate_per_minute)
    read = await token_grants.prefetch(
        ctx,
        hit,
        credentials.client_id,
        grant_id=grant_id_of_refresh_token(refresh) if refresh else None,
        code=code,
    )
    client = client_auth.check(credentials, read.client)
    grant_type = params.require("grant_type")
    if grant_type == "authorization_code":
        tokens = await token_grants.authorization_code(ctx, client, params, read.code)
    elif grant_type == "refresh_token":
        tokens = await token_grants.refresh_token(ctx, client, params, read.grant)
    else:
        raise UnsupportedGrantType("supported: authorization_code, refresh_token")
    return json_response(tokens.body())
