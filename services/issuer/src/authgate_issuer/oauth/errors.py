"""OAuth error responses: one class per RFC error code (RFC 6749 §5.2, RFC 7591 §3.2.2,
RFC 6750 §3.1, RFC 8707 §2), rendered as JSON with ``Cache-Control: no-store``.

Handlers raise these; the app's exception handler renders them. Anything else that escapes a
handler becomes a generic ``server_error`` (or ``temporarily_unavailable`` when Redis is down)
and is logged without the request's secrets; internal details never reach the client.
"""

from __future__ import annotations

from typing import ClassVar, Literal

ErrorCode = Literal[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "unsupported_response_type",
    "invalid_scope",
    "invalid_target",
    "access_denied",
    "server_error",
    "temporarily_unavailable",
    "invalid_redirect_uri",
    "invalid_client_metadata",
    "invalid_token",
    "unsupported_token_type",
    "too_many_requests",
]


class OAuthError(Exception):
    code: ClassVar[ErrorCode] = "invalid_request"
    status: ClassVar[int] = 400

    def __init__(self, description: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.headers = headers or {}

    def body(self) -> dict[str, str]:
        return {"error": self.code, "error_description": self.description}


class InvalidRequest(OAuthError):
    code = "invalid_request"


class InvalidClient(OAuthError):
    code = "invalid_client"
    status = 401


class InvalidGrant(OAuthError):
    code = "invalid_grant"


class UnauthorizedClient(OAuthError):
    code = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    code = "unsupported_grant_type"


class UnsupportedResponseType(OAuthError):
    code = "unsupported_response_type"


class InvalidScope(OAuthError):
    code = "invalid_scope"


class InvalidTarget(OAuthError):
    code = "invalid_target"


class AccessDenied(OAuthError):
    code = "access_denied"
    status = 403


class ServerError(OAuthError):
    code = "server_error"
    status = 500


class TemporarilyUnavailable(OAuthError):
    code = "temporarily_unavailable"
    status = 503


class InvalidRedirectUri(OAuthError):
    code = "invalid_redirect_uri"


class InvalidClientMetadata(OAuthError):
    code = "invalid_client_metadata"


class InvalidToken(OAuthError):
    """RFC 6750 §3.1, used by RFC 7592 client configuration endpoints."""

    code = "invalid_token"
    status = 401


class UnsupportedTokenType(OAuthError):
    code = "unsupported_token_type"


class PayloadTooLarge(OAuthError):
    code = "invalid_request"
    status = 413


class TooManyRequests(OAuthError):
    code = "too_many_requests"
    status = 429
