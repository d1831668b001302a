"""``GET /account`` and ``POST /account``: the "Connected apps" page (account package).

GET without a valid session sends the browser to GitHub's login (a fresh, browser-bound state;
account.sign_in); GitHub returns it to ``/callback``, which hands account states to
``finish_sign_in``. Any GitHub user may sign in: the page only ever shows and revokes grants whose
``github_id`` is the signed-in user's, so the sign-in allow-lists do not apply. Without
``github`` in LOGIN_PROVIDERS the page says plainly that it is not available (404).

POST (revoke, revoke_all, forget, forget_all, sign_out) needs the session, its CSRF token, and a
same-origin request (Origin / Sec-Fetch-Site, when the browser sends them); it answers 303 back
to the page (RFC 9110 §15.4.4) with a status message. A revocation goes through
``store.grants.revoke_grant``, which publishes every jti on the revocation channel, so the
verifiers refuse the tokens at once.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ..account import listing, sign_in
from ..account import page as account_page
from ..account import session as account_session
from ..context import IssuerContext, get_context
from ..login import github
from ..oauth import consent_cookie
from ..oauth.errors import InvalidRequest
from ..oauth.params import Params, parse_form
from ..store import grants as grants_store
from ..store.user_grants import grants_of_user
from ..web import logs, pages

router = APIRouter()
ACCOUNT_PATH = "/account"
MESSAGES = {
    "revoked": "Access revoked: that application's tokens no longer work.",
    "revoked_all": "Access revoked for every application.",
    "forgotten": "Consent forgotten: that application will ask again.",
    "forgotten_all": "Every remembered consent is forgotten.",
}


def _cookie(name: str, value: str, max_age: int) -> str:
    return consent_cookie.set_cookie_header(name, value, max_age)


def _url(ctx: IssuerContext) -> str:
    return f"{ctx.settings.issuer_url}{ACCOUNT_PATH}"


def _refused(ctx: IssuerContext, reason: str, status: int = 403) -> Response:
    logs.event("account_refused", reason=reason)
    detail = "This form is no longer valid: your session expired or it was not sent from this page."
    return account_page.message_page("Please sign in again", detail, status, _url(ctx))


@router.get(ACCOUNT_PATH)
async def account(request: Request, ctx: IssuerContext = Depends(get_context)) -> Response:
    key = consent_cookie.cookie_key(ctx.settings, ctx.keys)
    browser = consent_cookie.read_browser(key, request.cookies.get(consent_cookie.BROWSER_COOKIE))
    cookie = request.cookies.get(account_session.SESSION_COOKIE)
    session = account_session.read_session(key, cookie, browser, ctx.now())
    if session is None and "github" not in ctx.settings.login_providers:
        # The page signs in with GitHub only; without it there is nobody to sign in as.
        return pages.error_page(
            "Connected apps are not available here",
            "This gateway signs users in with single sign-on, and its connected apps page"
            " needs a GitHub sign-in. Ask the gateway's administrator to revoke an"
            " application's access.",
            404,
        )
    if session is None:
        new_cookie = None
        if browser is None:
            browser, new_cookie = consent_cookie.new_browser(key, ctx.random)
        state = await sign_in.save_state(
            ctx.redis, browser, ctx.random, ctx.settings.state_lifetime
        )
        response = pages.redirect(sign_in.github_authorize_url(ctx.settings, state))
        if new_cookie is not None:
            seconds = consent_cookie.BROWSER_COOKIE_SECONDS
            response.headers.append(
                "set-cookie", _cookie(consent_cookie.BROWSER_COOKIE, new_cookie, seconds)
            )
        return response
    approvals_cookie = request.cookies.get(consent_cookie.APPROVALS_COOKIE)
    approvals = consent_cookie.list_approvals(key, session.browser, approvals_cookie, ctx.now())
    grant_rows, approval_rows = await listing.rows(ctx, session.github_id, approvals)
    return account_page.account_page(
        gateway_name=ctx.settings.gateway_name,
        login=session.login,
        grants=grant_rows,
        approvals=approval_rows,
        action=_url(ctx),
        csrf=account_session.csrf_token(key, session),
        message=MESSAGES.get(request.query_params.get("done", ""), ""),
    )


@router.post(ACCOUNT_PATH)
async def account_action(request: Request, ctx: IssuerContext = Depends(get_context)) -> Response:
    try:
        form = parse_form(await request.body())
    except InvalidRequest:
        return _refused(ctx, "malformed", 400)
    if not account_session.same_origin(request.headers, ctx.settings.issuer_url):
        return _refused(ctx, "cross-origin")
    key = consent_cookie.cookie_key(ctx.settings, ctx.keys)
    browser = consent_cookie.read_browser(key, request.cookies.get(consent_cookie.BROWSER_COOKIE))
    cookie = request.cookies.get(account_session.SESSION_COOKIE)
    session = account_session.read_session(key, cookie, browser, ctx.now())
    if session is None:
        return _refused(ctx, "no session")
    if not account_session.check_csrf(key, session, form.get("csrf_token")):
        return _refused(ctx, "csrf")
    return await _act(request, ctx, form, session)


async def _act(
    request: Request, ctx: IssuerContext, form: Params, session: account_session.Session
) -> Response:
    action, user = form.get("action"), session.github_id
    if action == "revoke":
        grant_id = form.get("grant_id") or ""
        grant = await grants_store.load_grant(ctx.redis, grant_id) if grant_id else None
        if grant is None or grant.github_id != user:
            # Gone, or another user's: the same answer, so ids cannot be probed; nothing changes.
            logs.event("account_revoke_refused", user=session.login)
            detail = "It may have been revoked already. Nothing was changed."
            return account_page.message_page("No such connected app", detail, 404, _url(ctx))
        await grants_store.revoke_grant(ctx.redis, grant.grant_id)
        logs.event("account_revoked", user=session.login, client_id=grant.client_id)
        return _done(ctx, "revoked")
    if action == "revoke_all":
        for grant in await grants_of_user(ctx.redis, user):
            await grants_store.revoke_grant(ctx.redis, grant.grant_id)
            logs.event("account_revoked", user=session.login, client_id=grant.client_id)
        return _done(ctx, "revoked_all")
    if action in ("forget", "forget_all"):
        key = consent_cookie.cookie_key(ctx.settings, ctx.keys)
        current = request.cookies.get(consent_cookie.APPROVALS_COOKIE)
        which = {form.get("approval") or ""} if action == "forget" else None
        if which is None:
            which = set(consent_cookie.read_approvals(key, session.browser, current, ctx.now()))
        value = consent_cookie.forget(key, session.browser, current, which, ctx.now())
        response = _done(ctx, "forgotten" if action == "forget" else "forgotten_all")
        seconds = consent_cookie.REMEMBER_SECONDS if value else 0
        response.headers.append(
            "set-cookie", _cookie(consent_cookie.APPROVALS_COOKIE, value, seconds)
        )
        return response
    if action == "sign_out":
        detail = "You are signed out of this page. You can close this window."
        response = account_page.message_page("Signed out", detail, 200, _url(ctx))
        response.headers.append("set-cookie", _cookie(account_session.SESSION_COOKIE, "", 0))
        return response
    return _refused(ctx, "malformed", 400)


def _done(ctx: IssuerContext, message: str) -> Response:
    return pages.redirect(f"{_url(ctx)}?done={message}", 303)


def _sign_in_failed(ctx: IssuerContext, reason: str, detail: str) -> Response:
    logs.event("account_sign_in_failed", reason=reason)
    return account_page.message_page("Sign-in did not complete", detail, 400, _url(ctx))


async def finish_sign_in(request: Request, ctx: IssuerContext, params: Params) -> Response:
    """``/callback`` for a state of ``sign_in``: check it, ask GitHub who signed in, and start
    the session (then 302 to the page)."""
    key = consent_cookie.cookie_key(ctx.settings, ctx.keys)
    owner = await sign_in.take_state(ctx.redis, params.get("state") or "")
    browser = consent_cookie.read_browser(key, request.cookies.get(consent_cookie.BROWSER_COOKIE))
    if owner is None or browser is None or owner != browser:
        return _sign_in_failed(
            ctx, "state", "This sign-in link expired, was used, or was opened in another browser."
        )
    code = params.get("code")
    if params.get("error") is not None or code is None:
        return _sign_in_failed(ctx, "github refused", "GitHub did not confirm the sign-in.")
    try:
        user = await github.login(ctx.http, ctx.settings, code)
    except github.GitHubError as exc:
        logs.LOGGER.warning("account sign-in: GitHub login failed: %s", type(exc).__name__)
        return _sign_in_failed(ctx, "github", "GitHub could not confirm who you are; try again.")
    session = account_session.new_session(user.id, user.login, browser, ctx.now())
    logs.event("account_signed_in", user=user.login, github_id=user.id)
    response = pages.redirect(_url(ctx))
    response.headers.append(
        "set-cookie",
        _cookie(
            account_session.SESSION_COOKIE,
            account_session.cookie_value(key, session),
            account_session.SESSION_SECONDS,
        ),
    )
    return response
