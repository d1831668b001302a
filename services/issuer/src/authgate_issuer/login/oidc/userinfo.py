"""The userinfo endpoint (OpenID Connect Core §5.3), read when OIDC_USERINFO is on: some
providers put only ``sub`` in the ID token and the profile, e-mail or groups claims here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from .errors import OidcRefused
from .settings import OidcSettings
from .transport import get_json


def merge_userinfo(id_claims: Mapping[str, Any], userinfo: Mapping[str, Any]) -> dict[str, Any]:
    """The ID token's claims completed by userinfo's. Core §5.3.2: a userinfo answer about
    another ``sub`` MUST NOT be used (a token substitution); the signed ID token's claims win."""
    if userinfo.get("sub") != id_claims.get("sub"):
        raise OidcRefused("the userinfo answer is about another subject")
    return {**userinfo, **id_claims}


async def read_userinfo(
    http: httpx.AsyncClient, endpoint: str, settings: OidcSettings, *, access_token: str
) -> dict[str, Any]:
    """The userinfo claims (JSON; a signed userinfo answer is not supported)."""
    return await get_json(
        http, endpoint, "userinfo endpoint", seconds=settings.timeout, token=access_token
    )
