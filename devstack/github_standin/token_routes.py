"""``POST /login/oauth/access_token``: the code grant (OAuth app and GitHub App) and, for a
GitHub App with expiring user tokens, the refresh grant.

GitHub answers form-encoded unless asked for JSON, and errors come with HTTP 200:
``incorrect_client_credentials``, ``bad_verification_code`` (unknown, used or expired code),
``redirect_uri_mismatch``, ``bad_refresh_token`` (unknown, used or expired refresh token; an
OAuth app has none, so every refresh request of one gets it).
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, Response

from .faults import fault_answer
from .state import StandinState

TROUBLESHOOTING = (
    "https://docs.github.com/apps/managing-oauth-apps/"
    "troubleshooting-oauth-app-access-token-request-errors"
)
DESCRIPTIONS = {
    "incorrect_client_credentials": "The client_id and/or client_secret passed are incorrect.",
    "bad_verification_code": "The code passed is incorrect or expired.",
    "redirect_uri_mismatch": "The redirect_uri MUST match the registered callback URL for this "
    "application.",
    "bad_refresh_token": "The refresh token passed is incorrect or expired.",
}


def token_answer(request: Request, body: dict[str, Any], state: StandinState) -> Response:
    wants_json = "application/json" in request.headers.get("accept", "")
    if wants_json and state.faults.token != "form_encoded":
        return JSONResponse(body)
    return Response(urlencode(body), media_type="application/x-www-form-urlencoded")


def error_body(error: str) -> dict[str, str]:
    anchor = error.replace("_", "-")
    return {
        "error": error,
        "error_description": DESCRIPTIONS[error],
        "error_uri": f"{TROUBLESHOOTING}#{anchor}",
    }


def client_authenticated(client_id: str, client_secret: str, state: StandinState) -> bool:
    return hmac.compare_digest(client_id.encode(), state.client_id.encode()) & hmac.compare_digest(
        client_secret.encode(), state.client_secret.encode()
    )


def _answer(form: dict[str, str], state: StandinState) -> dict[str, Any]:
    """The token endpoint's body for ``form`` (success or a GitHub error)."""
    stats = state.tokens.stats
    if not client_authenticated(form.get("client_id", ""), form.get("client_secret", ""), state):
        return error_body("incorrect_client_credentials")
    if form.get("grant_type") == "refresh_token":
        refreshed = state.tokens.use_refresh_token(form.get("refresh_token", ""))
        if refreshed is None:
            stats["bad_refresh_tokens"] += 1
            return error_body("bad_refresh_token")
        return refreshed
    issued = state.redeem(form.get("code", ""))
    if issued is None or state.faults.token == "bad_code":
        return error_body("bad_verification_code")
    if form.get("redirect_uri") and form["redirect_uri"] != issued.redirect_uri:
        return error_body("redirect_uri_mismatch")
    stats["code_grants"] += 1
    return state.tokens.issue(issued.login, issued.scope)


def add_token_routes(app: FastAPI, state: StandinState) -> None:
    @app.post("/login/oauth/access_token")
    async def access_token(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        state.tokens.stats["token_requests"] += 1
        if form.get("grant_type") == "refresh_token":
            state.tokens.stats["refresh_grants"] += 1
        fault = await fault_answer(state.faults.token, state.faults)
        if fault is not None:
            return fault
        return token_answer(request, _answer(form, state), state)
