"""OAuth error codes, spelled once for both services (the ``error`` member of a JSON error body,
the ``error`` parameter of a ``WWW-Authenticate: Bearer`` challenge).

The issuer's exception classes (``authgate_issuer.oauth.errors``) and the verifier's denials
(``authgate_verifier.decision.Denial``) take their codes from here.
"""

from __future__ import annotations

from typing import Final

# RFC 6749 §5.2 (token endpoint) and §4.1.2.1 (authorization endpoint)
INVALID_REQUEST: Final = "invalid_request"
INVALID_CLIENT: Final = "invalid_client"
INVALID_GRANT: Final = "invalid_grant"
UNAUTHORIZED_CLIENT: Final = "unauthorized_client"
UNSUPPORTED_GRANT_TYPE: Final = "unsupported_grant_type"
INVALID_SCOPE: Final = "invalid_scope"
# RFC 6749 §4.1.2.1 (authorization endpoint)
UNSUPPORTED_RESPONSE_TYPE: Final = "unsupported_response_type"
ACCESS_DENIED: Final = "access_denied"
SERVER_ERROR: Final = "server_error"
TEMPORARILY_UNAVAILABLE: Final = "temporarily_unavailable"

# RFC 6750 §3.1 (bearer token use; invalid_request above is shared with RFC 6749)
INVALID_TOKEN: Final = "invalid_token"
INSUFFICIENT_SCOPE: Final = "insufficient_scope"

# RFC 7591 §3.2.2 (dynamic client registration)
INVALID_REDIRECT_URI: Final = "invalid_redirect_uri"
INVALID_CLIENT_METADATA: Final = "invalid_client_metadata"

# RFC 7009 §2.2.1 (token revocation)
UNSUPPORTED_TOKEN_TYPE: Final = "unsupported_token_type"

# RFC 8707 §2 (resource indicators)
INVALID_TARGET: Final = "invalid_target"

# Authgate's own, not from an RFC: the issuer's rate limits (HTTP 429, RFC 6585 §4)
TOO_MANY_REQUESTS: Final = "too_many_requests"
