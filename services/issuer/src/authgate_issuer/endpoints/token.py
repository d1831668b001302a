"""``POST /token``: the token endpoint (OAuth 2.1 §3.2, §4.1.3, §4.3).

Form-encoded only; every response carries ``Cache-Control: no-store`` (RFC 6749 §5.1); errors
are RFC 6749 §5.2 JSON (plus RFC 8707 ``invalid_target``), never a framework 422.

The form is parsed once into the typed request of its grant type (``oauth.grants``); the
request's own reads (client; what its grant type reads first: the stored code, taken, or the
grant a refresh token names) share one Redis round trip with its rate-limit hit
(``grants.prefetch``): this is the issuer's busiest route.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..context import context_of
from ..oauth import client_auth, grants
from ..oauth.client_auth import read_form
from ..web.rate_limits import address_hit
from ..web.responses import json_response
from ..web.routing import DirectRoute

router = APIRouter(route_class=DirectRoute)


@router.post("/token")
async def token(request: Request) -> Response:
    ctx = context_of(request)
    params = await read_form(request)
    credentials = client_auth.presented(request, params)
    form = grants.parse(params)
    hit = address_hit(ctx, request, "token", ctx.settings.token_rate_per_minute)
    hit = await client_auth.prepare_document(ctx, credentials.client_id, hit)
    read = await grants.prefetch(ctx, hit=hit, client_id=credentials.client_id, form=form)
    client = await client_auth.verify(ctx, credentials, read.client)
    tokens = await grants.handle(ctx, client=client, form=form, prefetched=read.for_grant)
    return json_response(tokens.body())
