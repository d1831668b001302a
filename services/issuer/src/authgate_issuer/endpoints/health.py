"""``GET /health``: liveness and Redis reachability, as the seed documents it."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.responses import Response

from authgate_shared import __version__
from authgate_shared.redis.connection import REDIS_DOWN_ERRORS

from ..context import IssuerContext, get_context
from ..web.responses import json_response

router = APIRouter()


@router.get("/health")
async def health(ctx: IssuerContext = Depends(get_context)) -> Response:
    uptime = int(ctx.clock() - ctx.started_at)
    try:
        await ctx.redis.ping()
    except REDIS_DOWN_ERRORS:
        body = {
            "status": "unhealthy",
            "redis": "disconnected",
            "version": __version__,
            "uptime": uptime,
        }
        return json_response(body, 503)
    body = {"status": "healthy", "redis": "connected", "version": __version__, "uptime": uptime}
    return json_response(body)
