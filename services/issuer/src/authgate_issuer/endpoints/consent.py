"""``POST /authorize/consent``: the consent page's Approve / Deny.

CSRF: the form carries HMAC(browser id, request id), checked against the signed ``__Host-``
browser cookie before anything is read from Redis. Approve (``approve``, or ``approve:<provider>``
when LOGIN_PROVIDERS lists several) creates the provider's ``state`` only now (MCP security best
practices: upstream state after consent) and sends the browser to the provider; Deny
returns ``access_denied`` to the client (RFC 6749 §4.1.2.1). Both answer 303 (RFC 9700 §4.12).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ..context import IssuerContext, get_context
from ..login import providers
from ..oauth import consent_cookie
from ..oauth.authorization_request import error_redirect_url
from ..oauth.errors import AccessDenied, InvalidRequest, OAuthError
from ..oauth.params import parse_form
from ..store import pending as pending_store
from ..store.pending import Pending
from ..web import logs, pages

router = APIRouter()
CONSENT_PATH = "/authorize/consent"


async def login_url(ctx: IssuerContext, pending: Pending, provider: str) -> str | OAuthError:
    """Store the approved request under a fresh state; the chosen provider's sign-in URL."""
    return await providers.start(ctx, pending, provider)


def _refused(reason: str) -> Response:
    logs.event("consent_refused", reason=reason)
    return pages.error_page(
        "This consent form is no longer valid",
        "It expired, was already answered, or was not sent from this browser. Start the "
        "sign-in again from the application.",
        403 if reason == "csrf" else 400,
    )


@router.post(CONSENT_PATH)
async def consent(request: Request, ctx: IssuerContext = Depends(get_context)) -> Response:
    try:
        form = parse_form(await request.body())
    except InvalidRequest:
        return _refused("malformed")
    key = consent_cookie.cookie_key(ctx.settings, ctx.keys)
    browser = consent_cookie.read_browser(key, request.cookies.get(consent_cookie.BROWSER_COOKIE))
    request_id, token = form.get("request_id"), form.get("csrf_token")
    if not (browser and request_id and token):
        return _refused("csrf")
    if not consent_cookie.check_csrf(key, browser, request_id, token):
        return _refused("csrf")
    pending = await pending_store.take_consent_request(ctx.redis, request_id)
    if pending is None or pending.browser != browser:
        return _refused("expired")
    auth = pending.request
    action = form.get("action")
    if action == "deny":
        logs.event("consent_denied", client_id=auth.client_id)
        denied = AccessDenied("the user denied the request")
        back = error_redirect_url(auth.redirect_uri, auth.state, denied, ctx.settings.issuer_url)
        return pages.redirect(back, 303)
    provider = providers.chosen(ctx.settings, action)
    if provider is None:
        return _refused("malformed")
    logs.event("consent_approved", client_id=auth.client_id, scope=auth.scope, provider=provider)
    url = await login_url(ctx, pending, provider)
    if isinstance(url, OAuthError):  # the provider cannot be reached: the client may retry
        logs.event("login_failed", client_id=auth.client_id, error=url.code, reason=url.description)
        error = error_redirect_url(auth.redirect_uri, auth.state, url, ctx.settings.issuer_url)
        return pages.redirect(error, 303)
    response: Response = pages.redirect(url, 303)
    if form.get("remember") == "yes":
        value = consent_cookie.remember(
            key, browser, request.cookies.get(consent_cookie.APPROVALS_COOKIE), auth, ctx.now()
        )
        response.headers.append(
            "set-cookie",
            consent_cookie.set_cookie_header(
                consent_cookie.APPROVALS_COOKIE, value, consent_cookie.REMEMBER_SECONDS
            ),
        )
    return response
