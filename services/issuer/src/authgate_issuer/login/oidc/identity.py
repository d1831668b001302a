"""Who signed in: the provider's claims mapped to an identity.

``sub`` becomes ``oidc|<provider subject>``, beside GitHub's ``github|<login>``: the provider's
``sub`` is the only stable identifier (Core §5.7: ``email`` and ``preferred_username`` may be
reassigned). The user name forwarded to MCP servers comes from OIDC_USERNAME_CLAIM. Groups come
from OIDC_GROUPS_CLAIM in the shapes providers send: Entra ID and Okta a list of names or ids,
Keycloak full paths with a leading ``/`` (``/eng/backend`` becomes ``eng/backend``), some a
single string. The user name and groups are forwarded to MCP servers in headers, so a user
name outside printable ASCII (or with "," or ";") is refused, and such a group dropped. Entra
ID's "overage" (more groups than fit: ``_claim_names`` points elsewhere) is reported, so that
group rules can fail closed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import OidcUnusableAccount
from .settings import OidcSettings

SUB_PREFIX = "oidc|"
# Printable ASCII without spaces or braces: safe in headers, logs and Redis hash tags.
SUBJECT = re.compile(r"[\x21-\x7a|~]{1,255}")
# What the verifier forwards (X-User-Name, X-User-Groups): printable ASCII without "," and ";"
# (a proxy joining repeated headers with "," could split one identity into two); no braces.
USERNAME = re.compile(r"[\x21-\x2b\x2d-\x3a\x3c-\x7a|~]{1,256}")
GROUP = re.compile(r"[\x20-\x2b\x2d-\x3a\x3c-\x7a|~]{1,256}")
MAX_GROUPS = 1000


@dataclass(frozen=True)
class OidcIdentity:
    sub: str
    """``oidc|<provider subject>``: the user's identifier in grants and tokens."""
    subject: str
    """The provider's own ``sub``."""
    username: str
    email: str | None
    email_verified: bool
    groups: frozenset[str]
    groups_incomplete: bool
    """The provider left groups out (Entra ID overage): group rules cannot be decided."""
    name: str | None


def _groups(value: Any) -> frozenset[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        return frozenset()
    groups = set()
    for item in items[:MAX_GROUPS]:
        if isinstance(item, str):
            # Keycloak's full group path: "/eng/backend" is the group "eng/backend".
            groups.add(item[1:] if item.startswith("/") else item)
    # A group that cannot be forwarded is dropped: fewer groups than the truth, never more.
    return frozenset(group for group in groups if GROUP.fullmatch(group))


def identity_from_claims(claims: Mapping[str, Any], settings: OidcSettings) -> OidcIdentity:
    """The identity the (validated) claims describe; OidcUnusableAccount when the subject or
    the user name claim is missing or unusable."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not SUBJECT.fullmatch(subject):
        raise OidcUnusableAccount("the provider's sub is not printable ASCII of 1-255 characters")
    username = claims.get(settings.username_claim)
    if not isinstance(username, str) or not USERNAME.fullmatch(username):
        raise OidcUnusableAccount(f"the provider sent no usable {settings.username_claim} claim")
    email, verified, name = claims.get("email"), claims.get("email_verified"), claims.get("name")
    claim_names = claims.get("_claim_names")
    overage = isinstance(claim_names, dict) and settings.groups_claim in claim_names
    return OidcIdentity(
        sub=SUB_PREFIX + subject,
        subject=subject,
        username=username,
        email=email if isinstance(email, str) and email else None,
        email_verified=verified is True,
        groups=_groups(claims.get(settings.groups_claim)),
        groups_incomplete=overage,
        name=name if isinstance(name, str) else None,
    )
