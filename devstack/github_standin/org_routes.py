"""The stand-in's organisation and team endpoints, with GitHub's shapes and quirks.

* ``GET /user/memberships/orgs/{org}``: 200 ``{"state": "active"|"pending", "role",
  "organization": {...}, "user": {...}}``; 404 ``Not Found`` for no membership (GitHub does not
  say whether the organisation exists); 403 with ``X-GitHub-SSO: required; url=…`` for an
  organisation enforcing SAML SSO the token is not authorized for.
* ``GET /user/teams?per_page&page``: the user's teams across organisations, each with ``slug``
  and ``organization.login``, paginated with ``Link: <…>; rel="next", <…>; rel="last"``
  (``per_page`` default 30, capped at 100 or the configured ``max_per_page``); teams of SAML
  organisations are left out and named in ``X-GitHub-SSO: partial-results; organizations=…``.
* Both need the token's ``read:org`` scope (asked for on the authorize URL), else 403; a
  GitHub App's user token has no scopes (the app's permissions apply) and may read both.
* ``GET``/``POST /_standin/orgs``: show or replace who belongs to what (orgs.py).

The ``membership`` fault (``POST /_standin/faults``) makes both endpoints ``slow``,
``error500``, ``malformed`` or ``rate_limited`` (403 with ``X-RateLimit-Remaining: 0``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, Response

from .faults import fault_answer
from .orgs import Org, directory_from_json, stable_id
from .state import StandinState

DOCS = "https://docs.github.com/rest"


def _org_document(org: Org, base: str) -> dict[str, Any]:
    return {
        "login": org.login,
        "id": stable_id("org", org.login),
        "url": f"{base}/orgs/{org.login}",
    }


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(
        {"message": message, "documentation_url": DOCS, "status": str(status)}, status, headers
    )


async def _caller(request: Request, state: StandinState) -> str | Response:
    """The token's login, or the answer GitHub gives instead (fault, 401, missing scope)."""
    mode = state.faults.membership
    if mode == "rate_limited":
        headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Limit": "5000"}
        return _error(403, "API rate limit exceeded for user.", headers)
    answer = await fault_answer(mode, state.faults)
    if answer is not None:
        return answer
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    login = state.tokens.login_for(token) if scheme.lower() in ("bearer", "token") else None
    if login is None:
        state.tokens.stats["bad_credentials"] += 1
        return _error(401, "Bad credentials")
    # A GitHub App's user token carries the app's permissions, not scopes (its scope is "").
    if not state.tokens.github_app and "read:org" not in state.tokens.scope_of(token):
        return _error(403, "This endpoint needs the read:org scope.")
    return login


def _teams_page(request: Request, items: list[dict[str, Any]], cap: int) -> tuple[list[Any], str]:
    """One page of ``items`` and its ``Link`` header (empty when there is one page)."""
    try:
        per_page = min(max(int(request.query_params.get("per_page", 30)), 1), cap)
        page = max(int(request.query_params.get("page", 1)), 1)
    except ValueError:
        per_page, page = min(30, cap), 1
    last = max((len(items) + per_page - 1) // per_page, 1)

    def link(number: int, rel: str) -> str:
        url = request.url.include_query_params(per_page=per_page, page=number)
        return f'<{url}>; rel="{rel}"'

    links = []
    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    if page > 1:
        links += [link(1, "first"), link(page - 1, "prev")]
    return items[(page - 1) * per_page : page * per_page], ", ".join(links)


def add_org_routes(app: FastAPI, state: StandinState) -> None:
    @app.get("/_standin/orgs")
    async def get_orgs() -> dict[str, Any]:
        return state.directory.to_json()

    @app.post("/_standin/orgs")
    async def set_orgs(request: Request) -> Response:
        try:
            state.directory = directory_from_json(await request.json())
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, 400)
        return JSONResponse(state.directory.to_json())

    @app.get("/user/memberships/orgs/{org}")
    @app.get("/api/v3/user/memberships/orgs/{org}")
    async def org_membership(org: str, request: Request) -> Response:
        login = await _caller(request, state)
        if isinstance(login, Response):
            return login
        entry = state.directory.orgs.get(org.lower())
        membership = entry.members.get(login.lower()) if entry is not None else None
        if entry is None or membership is None:
            return _error(404, "Not Found")
        base = str(request.base_url).rstrip("/")
        if entry.saml:
            sso = f"required; url={base}/orgs/{entry.login}/sso?authorization_request=standin"
            message = (
                "Resource protected by organization SAML enforcement. You must grant your"
                " OAuth token access to this organization."
            )
            return _error(403, message, {"X-GitHub-SSO": sso})
        return JSONResponse(
            {
                "url": f"{base}/orgs/{entry.login}/memberships/{login}",
                "state": membership,
                "role": "member",
                "organization_url": f"{base}/orgs/{entry.login}",
                "organization": _org_document(entry, base),
                "user": {"login": login, "id": state.user_id(login)},
            }
        )

    @app.get("/user/teams")
    @app.get("/api/v3/user/teams")
    async def user_teams(request: Request) -> Response:
        login = await _caller(request, state)
        if isinstance(login, Response):
            return login
        base = str(request.base_url).rstrip("/")
        teams: list[dict[str, Any]] = []
        hidden: list[str] = []
        for key in sorted(state.directory.orgs):
            org = state.directory.orgs[key]
            mine = [slug for slug, users in sorted(org.teams.items()) if login.lower() in users]
            if mine and org.saml:
                hidden.append(str(stable_id("org", org.login)))
                continue
            for slug in mine:
                teams.append(
                    {
                        "id": stable_id("team", f"{org.login}/{slug}"),
                        "name": slug.replace("-", " ").title(),
                        "slug": slug,
                        "privacy": "closed",
                        "url": f"{base}/orgs/{org.login}/teams/{slug}",
                        "organization": _org_document(org, base),
                    }
                )
        page, link = _teams_page(request, teams, state.directory.max_per_page)
        headers = {"Link": link} if link else {}
        if hidden:
            headers["X-GitHub-SSO"] = f"partial-results; organizations={','.join(hidden)}"
        return JSONResponse(page, headers=headers)
