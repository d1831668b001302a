"""``POST /token``: the token endpoint (OAuth 2.1 §3.2, §4.1.3, §4.3).

Form-encoded only; every response carries ``Cache-Control: no-store`` (RFC 6749 §5.1); errors
are RFC 6749 §5.2 JSON (plus RFC 8707 ``invalid_target``), never a framework 422.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from .. import token_grants
from ..client_auth import authenticate, read_form
from ..context import IssuerContext, get_context
from ..errors import UnsupportedGrantType
from ..ratelimit import limit_per_address
from ..responses import json_response

router = APIRouter()


@router.post("/token")
async def token(request: Request, ctx: IssuerContext = Depends(get_context)) -> Response:
    await limit_per_address(ctx, request, "token", ctx.settings.token_rate_per_minute)
    params = await read_form(request)
    client = await authenticate(ctx, request, params)
    grant_type = params.require("grant_type")
    if grant_type == "authorization_code":
        tokens = await token_grants.authorization_code(ctx, client, params)
    elif grant_type == "refresh_token":
        tokens = await token_grants.refresh_token(ctx, client, params)
    else:
        raise UnsupportedGrantType("supported: authorization_code, refresh_token")
    return json_response(tokens.body())
