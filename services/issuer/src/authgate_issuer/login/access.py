"""Who may sign in, decided at the callback: users, organisations, teams (in union).

``ALLOWED_GITHUB_USERS`` alone needs only the login (oauth.allowlist). With
``ALLOWED_GITHUB_ORGS`` or ``ALLOWED_GITHUB_TEAMS`` the user's active memberships are asked of
GitHub (login.membership) with the token the login just obtained; the matched ones become the
grant's ``groups`` (every refresh asks again, oauth.membership_recheck). A user who matches
nothing is refused before any code or grant exists.

With ``UPSTREAM_TOKEN_KEYS`` configured (required with organisations or teams) the login's
GitHub tokens are kept, sealed for the grant that the code will create (upstream.tokens): the
upstream token vault, which token exchange (RFC 8693) draws on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..context import IssuerContext
from ..oauth.allowlist import is_allowed
from ..oauth.credentials import new_id
from ..oauth.errors import AccessDenied, OAuthError, ServerError, TemporarilyUnavailable
from ..upstream import tokens as upstream_tokens
from ..web import logs
from . import github, membership


@dataclass(frozen=True)
class Admitted:
    """A user who may sign in, and what the code (then the grant) keeps of the login."""

    groups: list[str] = field(default_factory=list)
    grant_id: str = ""
    """Chosen now when the GitHub token is sealed for it; "" lets /token choose."""
    upstream_token: str = field(default="", repr=False)
    """The GitHub tokens sealed for ``grant_id``; "" when UPSTREAM_TOKEN_KEYS is not set."""


async def admit(
    ctx: IssuerContext, user: github.GitHubUser, tokens: github.GitHubTokens, *, client_id: str
) -> Admitted | OAuthError:
    """Admitted, or the OAuth error that refuses the login (access_denied when the user
    matches no list; temporarily_unavailable when GitHub cannot say)."""
    settings = ctx.settings
    listed = is_allowed(user.login, settings)
    if not settings.github.checks_membership:
        if not listed:
            return _denied(user, client_id, "not on ALLOWED_GITHUB_USERS")
        return _kept(ctx, tokens, groups=[])
    try:
        groups = list(
            (await membership.check(ctx.http, settings.github, tokens.access_token)).groups
        )
    except membership.UpstreamTokenRevoked:
        return AccessDenied("GitHub did not accept the login's token")
    except github.GitHubError as exc:
        if not listed:
            return _unavailable(exc)
        # ALLOWED_GITHUB_USERS admits the user anyway: no groups until a refresh can ask
        # (fewer groups than the truth, never more).
        logs.LOGGER.warning("GitHub membership check failed, listed user admitted: %s", exc)
        groups = []
    if not listed and not groups:
        return _denied(
            user, client_id, "not an allowed user nor an active member of an allowed org/team"
        )
    if settings.github.token_keys is None:
        # Settings refuse orgs/teams without keys; never store a token in clear.
        return ServerError("UPSTREAM_TOKEN_KEYS is not configured")
    return _kept(ctx, tokens, groups=groups)


def _kept(ctx: IssuerContext, tokens: github.GitHubTokens, *, groups: list[str]) -> Admitted:
    """The login's tokens sealed for a grant id chosen now, when the vault is on."""
    keys = ctx.settings.github.token_keys
    if keys is None:
        return Admitted(groups=groups)
    grant_id = new_id(ctx.random)
    token = upstream_tokens.from_response(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
        refresh_token_expires_in=tokens.refresh_token_expires_in,
        now=ctx.now(),
    )
    sealed = upstream_tokens.seal_token(keys, token, grant_id=grant_id, random=ctx.random)
    return Admitted(groups=groups, grant_id=grant_id, upstream_token=sealed)


def _unavailable(exc: github.GitHubError) -> OAuthError:
    if isinstance(exc, github.GitHubUnavailable):
        return TemporarilyUnavailable(f"GitHub is unavailable ({exc}); retry shortly")
    logs.LOGGER.error("GitHub membership check failed: %s", exc)
    return ServerError("the GitHub membership check could not be completed")


def _denied(user: github.GitHubUser, client_id: str, reason: str) -> AccessDenied:
    logs.event(
        "login_denied", client_id=client_id, user=user.login, github_id=user.id, reason=reason
    )
    return AccessDenied("this GitHub account is not allowed to sign in")
