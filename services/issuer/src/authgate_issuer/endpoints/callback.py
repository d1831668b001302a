"""``GET /callback``: the login provider (GitHub, or the OpenID Provider) sends the browser back
here; one URL for every provider, dispatched on the provider recorded with the state.

The state is taken atomically (GETDEL): a second use, an unknown state, or a browser other than
the one that consented gets an HTML page and no redirect, since nothing in the request can be
trusted then. From there on every outcome is a 302 to the client with ``state`` and ``iss``
(RFC 9207): the provider's errors and outages become ``access_denied`` / ``temporarily_unavailable`` /
``server_error`` (an account GitHub describes unusably is ``access_denied``: only real outages
invite a retry), a user outside ``ALLOWED_GITHUB_USERS`` and not an active member of an
``ALLOWED_GITHUB_ORGS``/``ALLOWED_GITHUB_TEAMS`` entry gets ``access_denied`` (login.access), and
otherwise an authorization code (≤ 10 min, one use, OAuth 2.1 §4.1.2) is issued.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from authgate_shared.redis.connection import REDIS_DOWN_ERRORS

from ..account import sign_in
from ..context import IssuerContext, get_context
from ..login import providers, service_access
from ..oauth import consent_cookie
from ..oauth.authorization_request import AuthorizationRequest, error_redirect_url, redirect_url
from ..oauth.errors import AccessDenied, InvalidRequest, OAuthError, TemporarilyUnavailable
from ..oauth.params import parse_query
from ..store import codes
from ..store import pending as pending_store
from ..web import logs, pages
from . import account

router = APIRouter()


def _invalid() -> Response:
    return pages.error_page(
        "This sign-in link is no longer valid",
        "It expired, was already used, or was opened in another browser. Start the sign-in "
        "again from the application.",
    )


def _error(ctx: IssuerContext, auth: AuthorizationRequest, error: OAuthError) -> Response:
    logs.event("login_failed", client_id=auth.client_id, error=error.code, reason=error.description)
    url = error_redirect_url(auth.redirect_uri, auth.state, error, ctx.settings.issuer_url)
    return pages.redirect(url)


@router.get("/callback")
async def callback(request: Request, ctx: IssuerContext = Depends(get_context)) -> Response:
    try:
        params = parse_query(request.scope["query_string"].decode("latin-1"))
    except InvalidRequest:
        return _invalid()
    state = params.get("state")
    if sign_in.is_account_state(state):  # the account page's own sign-in (endpoints.account)
        return await account.finish_sign_in(request, ctx, params)
    pending = await pending_store.take_state(ctx.redis, state) if state else None
    if pending is None:
        logs.event("callback_refused", reason="unknown or used state")
        return _invalid()
    key = consent_cookie.cookie_key(ctx.settings, ctx.keys)
    if consent_cookie.read_browser(key, request.cookies.get(consent_cookie.BROWSER_COOKIE)) != (
        pending.browser
    ):
        logs.event(
            "callback_refused", reason="another browser", client_id=pending.request.client_id
        )
        return _invalid()
    auth = pending.request
    # Dispatch on the provider recorded with the state, never on the query (login.providers).
    user = await providers.finish(ctx, pending, params)
    if isinstance(user, OAuthError):
        return _error(ctx, auth, user)
    # The policy's per-service allow: no code (and so no grant, no token) for a service the
    # user may not use (RFC 6749 §4.1.2.1 access_denied).
    sub = user.subject_id if user.provider == "oidc" else None  # whose user name it is
    refused = service_access.refused(
        ctx.settings, auth.resources, user.username, user.groups, sub=sub
    )
    if refused:
        logs.event("login_denied", client_id=auth.client_id, user=user.username, services=refused)
        who = "this GitHub account" if user.provider == "github" else "this account"
        return _error(ctx, auth, AccessDenied(f"{who} may not use this service"))
    record = codes.AuthorizationCode(
        client_id=auth.client_id,
        redirect_uri=auth.redirect_uri,
        redirect_uri_in_request=auth.redirect_uri_in_request,
        code_challenge=auth.code_challenge,
        scope=auth.scope,
        resources=auth.resources,
        username=user.username,
        github_id=user.subject_id,
        issued_at=ctx.now(),
        grant_id=user.grant_id,
        groups=user.groups,
        upstream_token=user.upstream_token,
        provider=user.provider,
        email=user.email or "",
    )
    try:
        code = await codes.issue(ctx.redis, record, ctx.random, ctx.settings.code_lifetime)
    except REDIS_DOWN_ERRORS:
        return _error(ctx, auth, TemporarilyUnavailable("storage is unavailable, retry shortly"))
    logs.event("code_issued", client_id=auth.client_id, user=user.username, scope=auth.scope)
    params_out = {"code": code, "state": auth.state, "iss": ctx.settings.issuer_url}
    return pages.redirect(redirect_url(auth.redirect_uri, params_out))
