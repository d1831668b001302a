"""The authorization request to the provider and the check of its response.

The request (OpenID Connect Core §3.1.2.1): code flow, our scopes, a fresh ``state`` (CSRF,
RFC 6749 §10.12), ``nonce`` (binds the ID token to this sign-in, Core §15.5.2) and PKCE S256
code verifier (RFC 7636 §4.1-4.2), each 256 random bits. The three secrets are kept by the
caller with the pending sign-in; only ``state`` and the challenge leave in the URL.

The response: ``state`` must be ours; RFC 9207 §2.4: an ``iss`` parameter must be the
provider's issuer, and must be present when the provider announces
``authorization_response_iss_parameter_supported``; both checked before an ``error`` is
believed, since a mixed-up response's error is as untrustworthy as its code.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from authgate_shared.runtime import RandomBytes

from ...oauth.pkce import s256
from .discovery import ProviderMetadata
from .errors import OidcDenied, OidcError, OidcRefused, OidcUnavailable
from .settings import OidcSettings

MAX_CODE_CHARS = 2048


@dataclass(frozen=True)
class AuthorizationStart:
    url: str
    """Where to send the user's browser."""
    state: str
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)


def _token(random: RandomBytes) -> str:
    return base64.urlsafe_b64encode(random(32)).rstrip(b"=").decode("ascii")


def authorization_start(
    metadata: ProviderMetadata, settings: OidcSettings, *, redirect_uri: str, random: RandomBytes
) -> AuthorizationStart:
    """A new authorization request and the secrets to keep until the provider answers."""
    state, nonce, verifier = _token(random), _token(random), _token(random)
    params = {
        "response_type": "code",
        "client_id": settings.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(settings.scopes),
        "state": state,
        "nonce": nonce,
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
    }
    # RFC 6749 §3.1: the endpoint may carry a query of its own, which must be kept.
    parts = urlsplit(metadata.authorization_endpoint)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    url = urlunsplit(parts._replace(query=urlencode([*query, *params.items()])))
    return AuthorizationStart(url=url, state=state, nonce=nonce, code_verifier=verifier)


def code_from_response(params: Mapping[str, str], *, state: str, metadata: ProviderMetadata) -> str:
    """The authorization code of the provider's redirect back to us; OidcRefused when the
    response is not the answer to our request, OidcDenied (or OidcUnavailable) for errors."""
    got_state = params.get("state", "")
    if not hmac.compare_digest(got_state.encode(), state.encode()):
        raise OidcRefused("the authorization response's state is not ours")
    iss = params.get("iss")
    if iss is None and metadata.iss_parameter:
        raise OidcRefused("the authorization response lacks iss (RFC 9207 §2.4)")
    if iss is not None and iss != metadata.issuer:
        raise OidcRefused("the authorization response's iss is another issuer (RFC 9207 §2.4)")
    error = params.get("error")
    if error in ("temporarily_unavailable", "server_error"):
        raise OidcUnavailable(f"the provider answered {error}")
    if error in ("access_denied", "login_required", "consent_required", "interaction_required"):
        raise OidcDenied(f"the provider answered {error}")
    if error is not None:
        raise OidcError(f"the provider answered {error[:64]!r}")
    code = params.get("code")
    if not code or len(code) > MAX_CODE_CHARS:
        raise OidcRefused("the authorization response has no code")
    return code
