"""OAuth error responses: one class per RFC error code (RFC 6749 §5.2, RFC 7591 §3.2.2,
RFC 6750 §3.1, RFC 7009 §2.2.1, RFC 8707 §2), rendered as JSON with ``Cache-Control: no-store``.
The codes themselves are spelled in ``authgate_shared.errors``.

Handlers raise these; the app's exception handler renders them. Anything else that escapes a
handler becomes a generic ``server_error`` (or ``temporarily_unavailable`` when Redis is down)
and is logged without the request's secrets; internal details never reach the client.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from authgate_shared import errors

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
    code: ClassVar[ErrorCode] = errors.INVALID_REQUEST
    status: ClassVar[int] = 400

    def __init__(self, description: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.headers = headers or {}

    def body(self) -> dict[str, str]:
        return {"error": self.code, "error_description": self.description}


class InvalidRequest(OAuthError):
    code = errors.INVALID_REQUEST


class InvalidClient(OAuthError):
    code = errors.INVALID_CLIENT
    status = 401


class InvalidGrant(OAuthError):
    code = errors.INVALID_GRANT


class UnauthorizedClient(OAuthError):
    code = errors.UNAUTHORIZED_CLIENT


class UnsupportedGrantType(OAuthError):
    code = errors.UNSUPPORTED_GRANT_TYPE


class UnsupportedResponseType(OAuthError):
    code = errors.UNSUPPORTED_RESPONSE_TYPE


class InvalidScope(OAuthError):
    code = errors.INVALID_SCOPE


class InvalidTarget(OAuthError):
    code = errors.INVALID_TARGET


class AccessDenied(OAuthError):
    code = errors.ACCESS_DENIED
    status = 403


class ServerError(OAuthError):
    code = errors.SERVER_ERROR
    status = 500


class TemporarilyUnavailable(OAuthError):
    code = errors.TEMPORARILY_UNAVAILABLE
    status = 503


class InvalidRedirectUri(OAuthError):
    code = errors.INVALID_REDIRECT_URI


class InvalidClientMetadata(OAuthError):
    code = errors.INVALID_CLIENT_METADATA


class InvalidToken(OAuthError):
    """RFC 6750 §3.1, used by RFC 7592 client configuration endpoints."""

    code = errors.INVALID_TOKEN
    status = 401


class UnsupportedTokenType(OAuthError):
    code = errors.UNSUPPORTED_TOKEN_TYPE


class PayloadTooLarge(OAuthError):
    code = errors.INVALID_REQUEST
    status = 413


class TooManyRequests(OAuthError):
    code = errors.TOO_MANY_REQUESTS
    status = 429
