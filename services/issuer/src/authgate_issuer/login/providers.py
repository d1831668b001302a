"""The login provider seam: the user's choice of provider (LOGIN_PROVIDERS) after consent, the
start of a sign-in there, and its finish at ``/callback`` into one provider-neutral ``SignedIn``.

* ``github`` (login.github_login): today's GitHub OAuth app login, with ALLOWED_GITHUB_* and the
  upstream token vault;
* ``oidc`` (login.oidc_login): any OpenID Connect provider (login.oidc), with the OIDC access
  rules (login.oidc_access).

``/callback`` is one URL for every provider: it dispatches on the provider recorded with the
``state`` at the start (store.pending), never on anything in the query, so an answer cannot
be steered into another provider's checks.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ..context import IssuerContext
from ..oauth.errors import OAuthError
from ..oauth.params import Params
from ..settings import IssuerSettings
from ..store.pending import Pending
from . import github_login, oidc_login
from .signed_in import SignedIn


def choices(settings: IssuerSettings) -> tuple[tuple[str, str], ...]:
    """The enabled providers as (value, label) for the consent page, in LOGIN_PROVIDERS order:
    GitHub, and the OpenID Provider named by its issuer's host (what the user will see next)."""
    labels = {"github": "GitHub"}
    if settings.oidc is not None:
        labels["oidc"] = f"single sign-on ({urlsplit(settings.oidc.issuer).hostname})"
    return tuple((p, labels.get(p, p)) for p in settings.login_providers)


def chosen(settings: IssuerSettings, action: str | None) -> str | None:
    """The provider an approve button names (``approve`` alone: the only, or first, enabled
    provider); None when the action approves nothing enabled."""
    if action == "approve":
        return settings.login_providers[0]
    prefix, colon, provider = (action or "").partition(":")
    if prefix == "approve" and colon and provider in settings.login_providers:
        return provider
    return None


async def start(ctx: IssuerContext, pending: Pending, provider: str) -> str | OAuthError:
    """Store the approved request under a fresh ``state`` for ``provider``; the URL to send
    the browser to (or the error to send the client, the provider being unreachable)."""
    if provider == "oidc":
        return await oidc_login.start(ctx, pending)
    return await github_login.start(ctx, pending)


async def finish(ctx: IssuerContext, pending: Pending, params: Params) -> SignedIn | OAuthError:
    """The provider's answer ``params`` to the sign-in ``pending`` (taken with its state):
    the admitted user, or the error to send the client."""
    if pending.provider == "oidc":
        return await oidc_login.finish(ctx, pending, params)
    return await github_login.finish(ctx, pending, params)


__all__ = ["SignedIn", "choices", "chosen", "finish", "start"]
