"""JSON responses with the headers OAuth requires on anything carrying credentials."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def json_response(
    body: Any, status: int = 200, *, no_store: bool = True, headers: dict[str, str] | None = None
) -> Response:
    all_headers = dict(NO_STORE) if no_store else {}
    if headers:
        all_headers.update(headers)
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=all_headers
    )
