"""Who signed in, whatever the provider: what /callback writes into the authorization code."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SignedIn:
    provider: str
    """``github`` or ``oidc`` (LOGIN_PROVIDERS)."""
    subject_id: str
    """The stable id: GitHub's numeric account id, or ``oidc|<provider subject>``."""
    username: str
    """What MCP servers receive as X-User-Name: the GitHub login, or OIDC_USERNAME_CLAIM."""
    email: str | None = None
    """OpenID Connect: the verified e-mail (kept for the refresh's re-check); GitHub: None."""
    groups: list[str] = field(default_factory=list)
    """The token's groups: GitHub organisations/teams, or ``oidc:<group>``."""
    grant_id: str = ""
    """Chosen now when the GitHub token is sealed for it; "" lets /token choose."""
    upstream_token: str = field(default="", repr=False)
    """GitHub only: the user's GitHub tokens sealed for ``grant_id`` ("" when not kept)."""
