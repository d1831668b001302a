"""GitHub's REST endpoints for an app to delete its user tokens, and the test controls of the
token lifecycle.

* ``DELETE /applications/{client_id}/grant`` and ``DELETE /applications/{client_id}/token``
  (also under ``/api/v3``), HTTP Basic ``client_id:client_secret``, JSON ``{"access_token"}``:
  204; the grant deletes every access and refresh token of that user for the app, the token
  only that one. 404 ``Not Found`` for an unknown token or another app, 422 ``Validation
  Failed`` without ``access_token``, 401 for bad Basic credentials.
* ``GET /_standin/stats``: request counters (``token_requests``, ``code_grants``,
  ``refresh_grants``, ``refresh_rotations``, ``bad_refresh_tokens``, ``user_requests``,
  ``bad_credentials`` (API calls answered 401), ``revocations``), so a test can count upstream
  refreshes, or show that no token but GitHub's own reached the API.
* ``POST /_standin/expire`` ``{"login"}``: that user's access tokens expire now (their refresh
  tokens stay usable), so tests need not wait 8 hours.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, Response

from .state import StandinState
from .token_routes import client_authenticated

DOCS = "https://docs.github.com/rest/apps/oauth-applications"
COUNTERS = (
    "token_requests",
    "code_grants",
    "refresh_grants",
    "refresh_rotations",
    "bad_refresh_tokens",
    "user_requests",
    "bad_credentials",
    "revocations",
)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"message": message, "documentation_url": DOCS, "status": str(status)}, status
    )


def _basic(request: Request) -> tuple[str, str]:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    return user, password


async def _access_token(request: Request) -> str | None:
    try:
        body: Any = json.loads(await request.body() or b"{}")
    except ValueError:
        return None
    token = body.get("access_token") if isinstance(body, dict) else None
    return token if isinstance(token, str) and token else None


def add_app_routes(app: FastAPI, state: StandinState) -> None:
    async def delete(client_id: str, request: Request, *, whole_grant: bool) -> Response:
        if not client_authenticated(*_basic(request), state):
            return _error(401, "Bad credentials")
        if client_id != state.client_id:
            return _error(404, "Not Found")
        token = await _access_token(request)
        if token is None:
            return _error(422, 'Invalid request.\n\n"access_token" wasn\'t supplied.')
        tokens = state.tokens
        done = tokens.revoke_grant(token) if whole_grant else tokens.revoke_token(token)
        if not done:
            return _error(404, "Not Found")
        tokens.stats["revocations"] += 1
        return Response(status_code=204)

    @app.delete("/applications/{client_id}/grant")
    @app.delete("/api/v3/applications/{client_id}/grant")
    async def delete_grant(client_id: str, request: Request) -> Response:
        return await delete(client_id, request, whole_grant=True)

    @app.delete("/applications/{client_id}/token")
    @app.delete("/api/v3/applications/{client_id}/token")
    async def delete_token(client_id: str, request: Request) -> Response:
        return await delete(client_id, request, whole_grant=False)

    @app.get("/_standin/stats")
    async def stats() -> dict[str, Any]:
        counters = state.tokens.stats
        return {
            **{name: counters[name] for name in COUNTERS},
            "github_app": state.tokens.github_app,
            "live_access_tokens": sum(
                1 for token in state.tokens.access if state.tokens.login_for(token)
            ),
            "refresh_tokens": len(state.tokens.refresh),
        }

    @app.post("/_standin/expire")
    async def expire(request: Request) -> Response:
        try:
            body: Any = json.loads(await request.body())
        except ValueError:
            body = None
        login = body.get("login") if isinstance(body, dict) else None
        if not isinstance(login, str) or not login:
            return JSONResponse({"error": "login required"}, 400)
        return JSONResponse({"expired": state.tokens.expire_login(login)})
