"""The OIDC access rules (login.oidc_access) applied to a sign-in and to a grant's refresh.

Fails closed: with no rule configured nobody signed in with OpenID Connect is admitted.
"""

from __future__ import annotations

from ..settings import IssuerSettings
from ..store.grants import Grant
from .oidc.identity import OidcIdentity


def admit(settings: IssuerSettings, identity: OidcIdentity) -> list[str] | str:
    """The token's groups (``oidc:<group>``) of an admitted user, or why they are refused."""
    return "no OpenID Connect access rule is configured"


def refused_at_refresh(settings: IssuerSettings, grant: Grant) -> str | None:
    """Why the grant's user is no longer admitted (None: still admitted)."""
    return "no OpenID Connect access rule is configured"
