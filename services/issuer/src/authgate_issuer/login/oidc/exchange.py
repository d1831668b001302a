"""The code exchange at the provider's token endpoint (OpenID Connect Core §3.1.3.1-3.1.3.4,
RFC 6749 §4.1.3) with our PKCE code verifier (RFC 7636 §4.5), authenticated as ``client_auth``
says."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from authgate_shared.runtime import RandomBytes

from .client_auth import authenticate
from .discovery import ProviderMetadata
from .errors import OidcDenied, OidcError, OidcUnavailable
from .settings import OidcSettings
from .transport import json_object, send


@dataclass(frozen=True)
class OidcTokens:
    id_token: str = field(repr=False)
    access_token: str = field(repr=False)


async def exchange_code(
    http: httpx.AsyncClient,
    metadata: ProviderMetadata,
    settings: OidcSettings,
    *,
    code: str,
    code_verifier: str,
    redirect_uri: str,
    now: float,
    random: RandomBytes,
) -> OidcTokens:
    """The provider's tokens for ``code``; OidcDenied when it refuses the code (expired,
    used), OidcError when it refuses us (our client's configuration)."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": code_verifier,
    }
    headers = {"Accept": "application/json"}
    authenticate(form, headers, metadata, settings, now=now, random=random)
    request = http.build_request(
        "POST", metadata.token_endpoint, data=form, headers=headers, timeout=settings.timeout
    )
    response = await send(http, request, "token endpoint")
    if response.status_code != 200:
        error = json_object(response, "token endpoint").get("error") if response.content else None
        if error == "invalid_grant":
            raise OidcDenied("the provider refused the authorization code (expired or used)")
        raise OidcError(f"the provider's token endpoint answered {response.status_code} {error!r}")
    body = json_object(response, "token endpoint")
    id_token, access_token = body.get("id_token"), body.get("access_token")
    token_type = body.get("token_type")
    if not isinstance(id_token, str) or not id_token:
        # Core §3.1.3.3: an OpenID token response always carries an ID token.
        raise OidcUnavailable("the provider's token response has no id_token")
    if not isinstance(access_token, str) or not isinstance(token_type, str):
        raise OidcUnavailable("the provider's token response has no access_token")
    if token_type.lower() != "bearer":
        raise OidcError(f"the provider issued a {token_type[:20]!r} token, not Bearer")
    return OidcTokens(id_token=id_token, access_token=access_token)
