"""Authorization server metadata (RFC 8414 §2): only what this server really implements."""

from __future__ import annotations

from typing import Any

from ..settings import IssuerSettings
from .client_jwks import SIGNING_ALGORITHMS
from .grants import GRANT_TYPES

AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none", "private_key_jwt"]
# RFC 8414 §2: required when private_key_jwt is listed; "none" is never among them.
SIGNING_ALGS = list(SIGNING_ALGORITHMS)


def server_metadata(settings: IssuerSettings) -> dict[str, Any]:
    base = settings.issuer_url
    return {
        # RFC 8414 §3.3: identical to the issuer identifier clients used, byte for byte.
        "issuer": base,
        "authorization_endpoint": f"{base}/authorize",
        "token_endpoint": f"{base}/token",
        "registration_endpoint": f"{base}/register",
        "revocation_endpoint": f"{base}/revoke",
        "introspection_endpoint": f"{base}/introspect",
        "jwks_uri": f"{base}/jwks",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(GRANT_TYPES),
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": SIGNING_ALGS,
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_signing_alg_values_supported": SIGNING_ALGS,
        "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint_auth_signing_alg_values_supported": SIGNING_ALGS,
        "scopes_supported": list(settings.scopes_supported),
        # RFC 9207 §3: every authorization response (success and error) carries `iss`.
        "authorization_response_iss_parameter_supported": True,
        # draft-ietf-oauth-client-id-metadata-document §4: https URL client ids are fetched.
        "client_id_metadata_document_supported": settings.cimd.enabled,
    }
