"""The provider's metadata from ``/.well-known/openid-configuration`` (OpenID Connect Discovery
1.0 §4), validated before anything is sent to the provider's endpoints.

Checked: ``issuer`` is exactly the configured one (§4.3: otherwise another provider's document,
the mix-up attack of RFC 9207 §1); every endpoint is https (or loopback http with
OIDC_ALLOW_INSECURE); the code flow is offered; the ID token algorithms intersect our safe
asymmetric list (never ``none`` or HS*, whose key would be our client secret); PKCE S256 is not
excluded; a client authentication method we speak is offered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from .errors import OidcError
from .settings import OidcSettings, url_problem
from .transport import get_json

SAFE_ALGORITHMS = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
)  # fmt: skip
"""Asymmetric JWS algorithms accepted for ID tokens (OpenID Connect Core §3.1.3.7 items 6-8)."""
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
"""Our preference with a client secret; Discovery §3: a provider that lists no methods supports
client_secret_basic. With a client key, only private_key_jwt."""


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    algorithms: tuple[str, ...]
    """ID token signing algorithms: the provider's list ∩ SAFE_ALGORITHMS."""
    token_auth_method: str
    iss_parameter: bool
    """``authorization_response_iss_parameter_supported`` (RFC 9207 §3): ``iss`` must come back."""


def discovery_url(issuer: str) -> str:
    """Discovery §4.1: the issuer without a trailing slash, then the well-known path."""
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def _strings(document: Mapping[str, Any], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = document.get(name)
    if value is None:
        return default
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise OidcError(f"the provider's {name} is not a list of strings")
    return tuple(value)


def _endpoint(document: Mapping[str, Any], name: str, settings: OidcSettings) -> str:
    value = document.get(name)
    if not isinstance(value, str) or not value:
        raise OidcError(f"the provider's discovery document has no {name}")
    problem = url_problem(value, allow_insecure=settings.allow_insecure)
    if problem is not None:
        raise OidcError(f"the provider's {name}: {problem}")
    return value


def parse_metadata(document: Mapping[str, Any], settings: OidcSettings) -> ProviderMetadata:
    """The metadata of ``document``; OidcError naming the first problem."""
    if document.get("issuer") != settings.issuer:
        # Discovery §4.3: the issuer MUST be identical to the URL the document was read from.
        raise OidcError(
            f"the provider's discovery document names issuer {document.get('issuer')!r},"
            f" not OIDC_ISSUER {settings.issuer!r}"
        )
    if "code" not in _strings(document, "response_types_supported", ()):
        raise OidcError("the provider does not offer the authorization code flow")
    offered = _strings(document, "id_token_signing_alg_values_supported", ())
    algorithms = tuple(alg for alg in offered if alg in SAFE_ALGORITHMS)
    if not algorithms:
        raise OidcError(f"the provider signs ID tokens with none of {', '.join(SAFE_ALGORITHMS)}")
    pkce = _strings(document, "code_challenge_methods_supported", ("S256",))
    if "S256" not in pkce:
        raise OidcError("the provider does not support PKCE with S256 (RFC 7636 §4.2)")
    methods = _strings(document, "token_endpoint_auth_methods_supported", ("client_secret_basic",))
    ours = ("private_key_jwt",) if settings.client_key is not None else SECRET_METHODS
    usable = [method for method in ours if method in methods]
    if not usable:
        raise OidcError(f"the provider's token endpoint accepts none of {', '.join(ours)}")
    signing = _strings(document, "token_endpoint_auth_signing_alg_values_supported", ())
    if settings.client_key_algorithm not in (None, *signing) and signing:
        raise OidcError(
            f"the provider's token endpoint does not accept {settings.client_key_algorithm}"
            " client assertions"
        )
    userinfo = (
        _endpoint(document, "userinfo_endpoint", settings)
        if settings.userinfo or document.get("userinfo_endpoint") is not None
        else None
    )
    return ProviderMetadata(
        issuer=settings.issuer,
        authorization_endpoint=_endpoint(document, "authorization_endpoint", settings),
        token_endpoint=_endpoint(document, "token_endpoint", settings),
        jwks_uri=_endpoint(document, "jwks_uri", settings),
        userinfo_endpoint=userinfo,
        algorithms=algorithms,
        token_auth_method=usable[0],
        iss_parameter=document.get("authorization_response_iss_parameter_supported") is True,
    )


async def discover(http: httpx.AsyncClient, settings: OidcSettings) -> ProviderMetadata:
    """Read and validate the provider's metadata; OidcUnavailable when it cannot be read."""
    url = discovery_url(settings.issuer)
    document = await get_json(http, url, "discovery document", seconds=settings.timeout)
    return parse_metadata(document, settings)
