"""The OIDC access rules (login.oidc_access) applied to a sign-in and to a grant's refresh.

Fails closed: with no list configured nobody signed in with OpenID Connect is admitted.
"""

from __future__ import annotations

from authgate_shared.policy import policy_groups

from ..settings import IssuerSettings
from ..store.grants import Grant
from . import oidc_access
from .oidc.identity import OidcIdentity


def _policy_groups(settings: IssuerSettings) -> frozenset[str]:
    """Every OIDC group the policy file names (they go into the token when the user has them)."""
    return policy_groups(settings.policy)


def admit(settings: IssuerSettings, identity: OidcIdentity) -> list[str] | str:
    """The token's groups (``oidc:<group>``) of an admitted user, or why they are refused."""
    if settings.oidc_access is None:
        return "OpenID Connect sign-in is not enabled"
    judged = oidc_access.admit(
        identity, settings.oidc_access, policy_groups=_policy_groups(settings)
    )
    if isinstance(judged, oidc_access.Refusal):
        return judged.reason
    return list(judged.groups)


def readmit(settings: IssuerSettings, grant: Grant) -> list[str] | str:
    """The groups the grant's user keeps under today's lists (those a rule still names), or
    why the user is no longer admitted. The grant keeps the e-mail only when the provider
    verified it (login.oidc_login)."""
    if settings.oidc_access is None:
        return "OpenID Connect sign-in is not enabled"
    judged = oidc_access.readmit(
        settings.oidc_access,
        sub=grant.github_id,
        username=grant.username,
        email=grant.email or None,
        email_verified=bool(grant.email),
        groups=grant.groups,
        policy_groups=_policy_groups(settings),
    )
    if isinstance(judged, oidc_access.Refusal):
        return judged.reason
    return list(judged.groups)
