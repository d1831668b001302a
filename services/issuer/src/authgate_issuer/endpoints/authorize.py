"""``GET /authorize``: validate the request, then ask the user's consent (or use a remembered
approval of this browser for this client) before anything is sent to GitHub.

Errors before the client and redirect URI are known good: an HTML page, status 400, no redirect
(OAuth 2.1 §4.1.2.1); so is a client id URL whose metadata document cannot be used (``cimd``). Later errors: 302 to the client with ``error`` and ``iss`` (RFC 9207).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ..cimd.resolver import CimdRefused, find_client
from ..context import IssuerContext, get_context
from ..login import providers, service_access
from ..oauth import consent_cookie
from ..oauth.authorization_request import (
    PageError,
    RedirectError,
    error_redirect_url,
    parse,
    requested_client_id,
    validate,
)
from ..oauth.errors import OAuthError
from ..store import pending as pending_store
from ..store.pending import Pending
from ..web import logs, pages
from ..web.client_identity import identity_html
from .consent import CONSENT_PATH, login_url

router = APIRouter()


@router.get("/authorize")
async def authorize(request: Request, ctx: IssuerContext = Depends(get_context)) -> Response:
    settings = ctx.settings
    try:
        params = parse(request.scope["query_string"].decode("latin-1"))
        client = await find_client(ctx, requested_client_id(params))
        auth = validate(params, client, settings)
    except CimdRefused as exc:
        logs.event("authorize_refused", reason=exc.reason)
        status = 429 if exc.retry_after is not None else 400
        return pages.error_page("This application could not be verified", exc.reason, status)
    except PageError as exc:
        logs.event("authorize_refused", reason=exc.detail)
        return pages.error_page(exc.title, exc.detail)
    except RedirectError as exc:
        logs.event("authorize_error", error=exc.error.code, reason=exc.error.description)
        url = error_redirect_url(exc.redirect_uri, exc.state, exc.error, settings.issuer_url)
        return pages.redirect(url)

    key = consent_cookie.cookie_key(settings, ctx.keys)
    browser = consent_cookie.read_browser(key, request.cookies.get(consent_cookie.BROWSER_COOKIE))
    approvals = request.cookies.get(consent_cookie.APPROVALS_COOKIE)
    # A remembered approval skips the page only when there is no provider to choose.
    single = len(settings.login_providers) == 1
    if (
        single
        and browser
        and consent_cookie.is_remembered(key, browser, approvals, auth, ctx.now())
    ):
        logs.event("consent_remembered", client_id=auth.client_id, scope=auth.scope)
        start = await login_url(ctx, Pending(auth, browser), settings.login_providers[0])
        if isinstance(start, OAuthError):
            error = error_redirect_url(auth.redirect_uri, auth.state, start, settings.issuer_url)
            return pages.redirect(error)
        return pages.redirect(start)

    new_cookie = None
    if browser is None:
        browser, new_cookie = consent_cookie.new_browser(key, ctx.random)
    request_id = await pending_store.save_consent_request(
        ctx.redis, Pending(auth, browser), ctx.random, settings.state_lifetime
    )
    assert client is not None
    names, descriptions = service_access.consent_texts(settings, auth.resources)
    view = pages.ConsentView(
        client_name=client.name,
        client_id=client.client_id,
        redirect_uri=auth.redirect_uri,
        scope=auth.scope,
        resources=auth.resources,
        request_id=request_id,
        csrf_token=consent_cookie.csrf_token(key, browser, request_id),
        identity_html=identity_html(client.client_id, auth.redirect_uri, settings.cimd),
        gateway_name=settings.gateway_name,
        scope_descriptions=descriptions,
        service_names=names,
        providers=providers.choices(settings),
    )
    response = pages.consent_page(view, f"{settings.issuer_url}{CONSENT_PATH}")
    if new_cookie is not None:
        response.headers.append(
            "set-cookie",
            consent_cookie.set_cookie_header(
                consent_cookie.BROWSER_COOKIE, new_cookie, consent_cookie.BROWSER_COOKIE_SECONDS
            ),
        )
    return response
