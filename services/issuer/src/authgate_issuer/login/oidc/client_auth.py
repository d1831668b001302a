"""How we authenticate at the provider's token endpoint (OpenID Connect Core §9).

* ``client_secret_basic``: RFC 6749 §2.3.1, the id and secret form-urlencoded before they are
  joined for HTTP Basic (the default every provider supports);
* ``client_secret_post``: the same two in the form, when the provider offers only that;
* ``private_key_jwt``: RFC 7523 §2.2 / Core §9, a JWT signed with our key (OIDC_CLIENT_PRIVATE_KEY)
  with ``iss`` = ``sub`` = our client id, ``aud`` = the token endpoint (Core §9; Okta and Entra
  ID require exactly that), a fresh ``jti`` and a one-minute lifetime: no secret is shared.
"""

from __future__ import annotations

import base64
from urllib.parse import quote_plus

import jwt

from authgate_shared.runtime import RandomBytes

from .discovery import ProviderMetadata
from .settings import OidcSettings

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_SECONDS = 60


def basic_credentials(client_id: str, client_secret: str) -> str:
    """The ``Authorization`` value of RFC 6749 §2.3.1."""
    pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}"
    return "Basic " + base64.b64encode(pair.encode()).decode("ascii")


def client_assertion(
    settings: OidcSettings, *, audience: str, now: float, random: RandomBytes
) -> str:
    """A private_key_jwt client assertion for one token request."""
    assert settings.client_key is not None and settings.client_key_algorithm is not None
    claims = {
        "iss": settings.client_id,
        "sub": settings.client_id,
        "aud": audience,
        "jti": base64.urlsafe_b64encode(random(16)).rstrip(b"=").decode("ascii"),
        "iat": int(now),
        "exp": int(now) + ASSERTION_SECONDS,
    }
    headers = {"kid": settings.client_key_id} if settings.client_key_id else None
    return jwt.encode(
        claims, settings.client_key, algorithm=settings.client_key_algorithm, headers=headers
    )


def authenticate(
    form: dict[str, str],
    headers: dict[str, str],
    metadata: ProviderMetadata,
    settings: OidcSettings,
    *,
    now: float,
    random: RandomBytes,
) -> None:
    """Add our credentials to a token request's ``form`` or ``headers``."""
    method = metadata.token_auth_method
    if method == "private_key_jwt":
        audience = metadata.token_endpoint
        form.update(
            client_id=settings.client_id,
            client_assertion_type=ASSERTION_TYPE,
            client_assertion=client_assertion(settings, audience=audience, now=now, random=random),
        )
    elif method == "client_secret_post":
        form.update(client_id=settings.client_id, client_secret=settings.client_secret)
    else:
        headers["Authorization"] = basic_credentials(settings.client_id, settings.client_secret)
