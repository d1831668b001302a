"""``GET /metrics``: the app's Prometheus metrics (text exposition format).

Not meant for the public: the proxy should not route ``/metrics`` (see README, Operations).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from starlette.responses import Response

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    # Format 0.0.4 is what every Prometheus version and most other scrapers accept.
    body = generate_latest(request.app.state.metrics.registry)
    return Response(
        body, media_type=CONTENT_TYPE_PLAIN_0_0_4, headers={"cache-control": "no-store"}
    )
