"""The GitHub stand-in's HTTP endpoints (OAuth base and API base in one process).

OAuth base = the server root; API base = the root or ``/api/v3`` (GitHub Enterprise style).
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import FastAPI, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from .app_routes import add_app_routes
from .faults import fault_answer
from .org_routes import add_org_routes
from .state import MEMBERSHIP_FAULTS, TOKEN_FAULTS, USER_FAULTS, Faults, StandinState
from .token_routes import add_token_routes


def _login_page(fields: dict[str, str], state: StandinState, message: str = "") -> HTMLResponse:
    hidden = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items()
    )
    options = "".join(f'<option value="{escape(u)}">' for u in state.display.values())
    note = f"<p><strong>{escape(message)}</strong></p>" if message else ""
    html = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Sign in (dev)</title></head>"
        "<body><h1>GitHub stand-in: development login</h1>"
        "<p>This is not GitHub. Type any login to sign in as that user.</p>"
        f'{note}<form method="post" action="/login/oauth/authorize">{hidden}'
        '<label>Login <input name="login" list="users" autofocus required></label>'
        f'<datalist id="users">{options}</datalist> '
        '<button name="action" value="authorize">Sign in</button> '
        '<button name="action" value="deny" formnovalidate>Cancel</button></form></body></html>'
    )
    return HTMLResponse(html, status_code=400 if message else 200)


def _user_document(login: str, state: StandinState) -> dict[str, Any]:
    """GitHub's ``/user`` answer; the ``no_id``/``string_id``/``bad_login`` faults spoil it the
    way an account the issuer must refuse would (a well-formed 200, unusable content)."""
    user: dict[str, Any] = {
        "login": login,
        "id": state.user_id(login),
        "name": login.capitalize(),
        "email": f"{login.lower()}@users.noreply.example",
        "type": "User",
    }
    if state.faults.user == "no_id":
        del user["id"]
    elif state.faults.user == "string_id":
        user["id"] = str(user["id"])
    elif state.faults.user == "bad_login":
        user["login"] = f"{login} <script>"
    return user


def create_standin_app(state: StandinState) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.standin = state

    @app.get("/_standin/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/_standin/faults")
    async def get_faults() -> dict[str, Any]:
        return vars(state.faults)

    @app.post("/_standin/faults")
    async def set_faults(request: Request) -> Response:
        body = await request.json()
        faults = Faults(
            token=str(body.get("token", "none")),
            user=str(body.get("user", "none")),
            delay=float(body.get("delay", state.faults.delay)),
            membership=str(body.get("membership", "none")),
        )
        if (
            faults.token not in TOKEN_FAULTS
            or faults.user not in USER_FAULTS
            or faults.membership not in MEMBERSHIP_FAULTS
        ):
            return JSONResponse({"error": "unknown fault"}, 400)
        state.faults = faults
        return JSONResponse(vars(faults))

    @app.get("/login/oauth/authorize")
    async def authorize_page(request: Request) -> Response:
        query = dict(request.query_params)
        fields = {k: query.get(k, "") for k in ("client_id", "redirect_uri", "state", "scope")}
        fields["redirect_uri"] = fields["redirect_uri"] or (state.callback_url or "")
        if fields["client_id"] != state.client_id:
            return HTMLResponse("<h1>404: unknown OAuth application</h1>", 404)
        if not fields["redirect_uri"] or not state.redirect_allowed(fields["redirect_uri"]):
            return HTMLResponse("<h1>The redirect_uri is not associated with this app</h1>", 400)
        return _login_page(fields, state)

    @app.post("/login/oauth/authorize")
    async def authorize_submit(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        fields = {k: form.get(k, "") for k in ("client_id", "redirect_uri", "state", "scope")}
        redirect_uri = fields["redirect_uri"]
        if fields["client_id"] != state.client_id or not state.redirect_allowed(redirect_uri):
            return HTMLResponse("<h1>Bad request</h1>", 400)
        sep = "&" if "?" in redirect_uri else "?"
        if form.get("action") == "deny":
            denied = {
                "error": "access_denied",
                "error_description": "The user has denied your application access.",
                "state": fields["state"],
            }
            return RedirectResponse(f"{redirect_uri}{sep}{urlencode(denied)}", 302)
        login = state.canonical_login(form.get("login", ""))
        if login is None:
            return _login_page(fields, state, "That login cannot sign in here.")
        code = state.issue_code(login, redirect_uri, scope=fields["scope"])
        back = urlencode({"code": code, "state": fields["state"]})
        return RedirectResponse(f"{redirect_uri}{sep}{back}", 302)

    @app.get("/user")
    @app.get("/api/v3/user")
    async def user(request: Request) -> Response:
        fault = await fault_answer(state.faults.user, state.faults)
        if fault is not None:
            return fault
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        state.tokens.stats["user_requests"] += 1
        bearer = scheme.lower() in ("bearer", "token")
        login = state.tokens.login_for(token) if bearer else None
        if login is None or state.faults.user == "unauthorized":
            state.tokens.stats["bad_credentials"] += 1
            return JSONResponse({"message": "Bad credentials"}, 401)
        return JSONResponse(_user_document(login, state))

    add_token_routes(app, state)
    add_app_routes(app, state)
    add_org_routes(app, state)
    return app
