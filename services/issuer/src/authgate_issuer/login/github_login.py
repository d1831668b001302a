"""GitHub as a login provider (login.providers): the authorize URL after consent, and the
callback's code exchange, ``GET /user`` and admission (login.access), unchanged from before
there were providers."""

from __future__ import annotations

from urllib.parse import urlencode

from ..context import IssuerContext
from ..oauth.errors import AccessDenied, OAuthError, ServerError, TemporarilyUnavailable
from ..oauth.params import Params
from ..store import pending as pending_store
from ..store.pending import Pending
from ..web import logs
from . import access, github
from .signed_in import SignedIn


async def start(ctx: IssuerContext, pending: Pending) -> str:
    """Store the approved request under a fresh state; the GitHub authorize URL carrying it."""
    settings = ctx.settings
    state = await pending_store.save_state(
        ctx.redis, pending.towards("github"), ctx.random, settings.state_lifetime
    )
    query = urlencode(
        {
            "client_id": settings.github.client_id,
            "redirect_uri": settings.callback_url,
            "state": state,
            "scope": github.oauth_scope(settings.github),
        }
    )
    return f"{settings.github.base_url}/login/oauth/authorize?{query}"


async def _login(
    ctx: IssuerContext, code: str
) -> tuple[github.GitHubUser, github.GitHubTokens] | OAuthError:
    try:
        return await github.sign_in(ctx.http, ctx.settings, code)
    except github.GitHubUnavailable as exc:
        return TemporarilyUnavailable(f"GitHub is unavailable ({exc}); retry shortly")
    except github.GitHubDenied:
        return AccessDenied("GitHub did not confirm the login")
    except github.GitHubUnusableAccount as exc:
        # RFC 6749 §4.1.2.1: access_denied, not temporarily_unavailable; a retry cannot help.
        logs.LOGGER.warning("GitHub account refused: %s", exc)
        return AccessDenied(
            "GitHub did not identify this GitHub account in a form this gateway accepts (no "
            "valid account id or login); sign in with another GitHub account or ask the "
            "gateway's administrator"
        )
    except github.GitHubError as exc:
        logs.LOGGER.error("GitHub login failed: %s", exc)
        return ServerError("the GitHub login could not be completed")


async def finish(ctx: IssuerContext, pending: Pending, params: Params) -> SignedIn | OAuthError:
    """GitHub's answer to the sign-in: the admitted user, or the error for the client."""
    if params.get("error") is not None:
        if params.get("error") == "access_denied":
            return AccessDenied("the user denied the GitHub login")
        return ServerError("GitHub refused the login request")
    code = params.get("code")
    if code is None:
        return ServerError("GitHub sent no authorization code")
    signed_in = await _login(ctx, code)
    if isinstance(signed_in, OAuthError):
        return signed_in
    user, tokens = signed_in
    admitted = await access.admit(ctx, user, tokens, client_id=pending.request.client_id)
    if isinstance(admitted, OAuthError):
        return admitted
    return SignedIn(
        provider="github",
        subject_id=user.id,
        username=user.login,
        groups=admitted.groups,
        grant_id=admitted.grant_id,
        upstream_token=admitted.upstream_token,
    )
