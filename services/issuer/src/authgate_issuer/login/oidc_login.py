"""OpenID Connect as a login provider (login.providers): ``OidcLogin.start`` after consent,
``OidcLogin.complete`` at the callback, then the OIDC access rules (login.oidc_access).

The ``state``, ``nonce`` and PKCE ``code_verifier`` towards the provider are made by
``OidcLogin.start``; the approved request is stored under that ``state`` with the other two
(store.pending), so only the provider's answer to this very request can finish it (RFC 6749
§10.12, Core §15.5.2, RFC 7636 §4.1). Every provider failure becomes the OAuth error the
client receives in its redirect (login.oidc.errors): an outage ``temporarily_unavailable``, a
refused or forged answer ``access_denied``.
"""

from __future__ import annotations

from ..context import IssuerContext
from ..login.oidc import errors
from ..login.oidc.client import OidcLogin
from ..oauth.errors import AccessDenied, OAuthError, ServerError, TemporarilyUnavailable
from ..oauth.params import Params
from ..store import pending as pending_store
from ..store.grants import Grant
from ..store.pending import Pending
from ..web import logs
from . import oidc_admission
from .signed_in import SignedIn

# The authorization response's parameters (RFC 6749 §4.1.2, RFC 9207 §2).
ANSWER = ("state", "code", "iss", "error", "error_description")


def _login(ctx: IssuerContext) -> OidcLogin | None:
    return ctx.oidc if "oidc" in ctx.settings.login_providers else None


def _error(exc: errors.OidcError) -> OAuthError:
    if isinstance(exc, errors.OidcUnavailable):
        return TemporarilyUnavailable("the sign-in provider is unavailable; retry shortly")
    if isinstance(exc, errors.OidcDenied):
        return AccessDenied("the sign-in provider did not confirm the login")
    if isinstance(exc, errors.OidcRefused | errors.OidcUnusableAccount):
        logs.LOGGER.warning("OIDC sign-in refused: %s", exc)
        return AccessDenied("the sign-in provider's answer was not accepted")
    logs.LOGGER.error("OIDC sign-in failed: %s", exc)
    return ServerError("the sign-in could not be completed")


async def start(ctx: IssuerContext, pending: Pending) -> str | OAuthError:
    """Store the approved request under the new sign-in's state; the provider's URL."""
    login = _login(ctx)
    if login is None:
        return ServerError("OpenID Connect sign-in is not enabled")
    try:
        begun = await login.start(
            ctx.http, redirect_uri=ctx.settings.callback_url, random=ctx.random, now=ctx.now()
        )
    except errors.OidcError as exc:
        return _error(exc)
    towards = pending.towards("oidc", nonce=begun.nonce, code_verifier=begun.code_verifier)
    await pending_store.save_given_state(
        ctx.redis, towards, begun.state, ctx.settings.state_lifetime
    )
    return begun.url


async def finish(ctx: IssuerContext, pending: Pending, params: Params) -> SignedIn | OAuthError:
    """The provider's answer to the sign-in: the admitted user, or the error for the client."""
    login = _login(ctx)
    if login is None or not pending.nonce or not pending.code_verifier:
        return ServerError("OpenID Connect sign-in is not enabled")
    # The pending record was found by this very state (store.pending): it is ours.
    state = params.get("state") or ""
    answer = {name: value for name in ANSWER if (value := params.get(name)) is not None}
    try:
        identity = await login.complete(
            ctx.http,
            answer,
            state=state,
            nonce=pending.nonce,
            code_verifier=pending.code_verifier,
            redirect_uri=ctx.settings.callback_url,
            now=ctx.now(),
            random=ctx.random,
        )
    except errors.OidcError as exc:
        return _error(exc)
    admitted = oidc_admission.admit(ctx.settings, identity)
    if isinstance(admitted, str):
        logs.event(
            "login_denied",
            client_id=pending.request.client_id,
            user=identity.username,
            subject=identity.sub,
            reason=admitted,
        )
        return AccessDenied("this account is not allowed to sign in")
    return SignedIn(
        provider="oidc",
        subject_id=identity.sub,
        username=identity.username,
        email=identity.email if identity.email_verified else None,
        groups=admitted,
    )


def readmit(ctx: IssuerContext, grant: Grant) -> list[str] | str:
    """At refresh: the groups an OpenID Connect grant's tokens carry from now on, or why it may
    no longer be refreshed: the access rules as they are now, against the identity stored at
    sign-in (its groups are those of the sign-in; the provider is not asked again)."""
    if "oidc" not in ctx.settings.login_providers:
        return "OpenID Connect sign-in is no longer enabled"
    return oidc_admission.readmit(ctx.settings, grant)
