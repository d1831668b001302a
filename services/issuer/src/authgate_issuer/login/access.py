"""Who may sign in, decided at the callback: users, organisations, teams (in union).

``ALLOWED_GITHUB_USERS`` alone needs only the login (oauth.allowlist). With
``ALLOWED_GITHUB_ORGS`` or ``ALLOWED_GITHUB_TEAMS`` the user's active memberships are asked of
GitHub (login.membership) with the token the login just obtained; the matched ones become the
grant's ``groups``, and the token is kept, sealed for the grant that the code will create
(``UPSTREAM_TOKEN_KEYS``, sealing), so every refresh can ask again (oauth.membership_recheck).
A user who matches nothing is refused before any code or grant exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..context import IssuerContext
from ..oauth.allowlist import is_allowed
from ..oauth.credentials import new_id
from ..oauth.errors import AccessDenied, OAuthError, ServerError, TemporarilyUnavailable
from ..settings import IssuerSettings
from ..store.sealing import open_sealed, seal
from ..web import logs
from . import github, membership


@dataclass(frozen=True)
class Admitted:
    """A user who may sign in, and what the code (then the grant) keeps of the login."""

    groups: list[str] = field(default_factory=list)
    grant_id: str = ""
    """Chosen now when the GitHub token is sealed for it; "" lets /token choose."""
    upstream_token: str = field(default="", repr=False)
    """The GitHub token sealed for ``grant_id``; "" when organisations are not checked."""


def open_upstream_token(settings: IssuerSettings, sealed: str, *, grant_id: str) -> str | None:
    """The GitHub token kept in grant ``grant_id``; None when absent or no key opens it."""
    keys = settings.github.token_keys
    if not sealed or keys is None:
        return None
    plain = open_sealed(keys, sealed, associated=grant_id)
    return None if plain is None else plain.decode()


async def admit(
    ctx: IssuerContext, user: github.GitHubUser, token: str, *, client_id: str
) -> Admitted | OAuthError:
    """Admitted, or the OAuth error that refuses the login (access_denied when the user
    matches no list; temporarily_unavailable when GitHub cannot say)."""
    settings = ctx.settings
    listed = is_allowed(user.login, settings)
    if not settings.github.checks_membership:
        return Admitted() if listed else _denied(user, client_id, "not on ALLOWED_GITHUB_USERS")
    try:
        groups = list((await membership.check(ctx.http, settings.github, token)).groups)
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
    keys = settings.github.token_keys
    if keys is None:  # settings refuse orgs/teams without keys; never store a token in clear
        return ServerError("UPSTREAM_TOKEN_KEYS is not configured")
    grant_id = new_id(ctx.random)
    sealed = seal(keys, token.encode(), associated=grant_id, random=ctx.random)
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
