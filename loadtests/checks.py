"""What a correct answer is, per request kind: every check returns a problem, or None if right.

Pure functions of status, headers and body, without locust, so the tests can feed them wrong
answers. A load test that only counted statuses would call a verifier that lets a revoked token
through "fast"; these checks make that a failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

VALID = "valid"
EXPIRED = "expired"
REVOKED = "revoked"
WRONG_SERVICE = "wrong_service"
KINDS = (VALID, EXPIRED, REVOKED, WRONG_SERVICE)


def lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _refused(kind: str, status: int, headers: Mapping[str, str]) -> str | None:
    """An RFC 6750 refusal: 401 with a Bearer ``invalid_token`` challenge."""
    if status == 200:
        return f"{kind} token accepted (200)"
    if status != 401:
        return f"{kind} token answered {status}, expected 401"
    challenge = lower_keys(headers).get("www-authenticate", "")
    if not challenge.lower().startswith("bearer") or 'error="invalid_token"' not in challenge:
        return f"401 without a Bearer invalid_token challenge: {challenge!r}"
    return None


def check_verify(
    kind: str, status: int, headers: Mapping[str, str], expected_user: str | None
) -> str | None:
    """A ForwardAuth answer of the verifier itself (``/verify``)."""
    if kind != VALID:
        return _refused(kind, status, headers)
    if status != 200:
        return f"valid token answered {status}"
    h = lower_keys(headers)
    user = h.get("x-user-id")
    if not user:
        return "200 without X-User-Id"
    if expected_user is not None and user != expected_user:
        return f"X-User-Id {user!r}, expected {expected_user!r}"
    return None


def check_proxied(kind: str, status: int, headers: Mapping[str, str]) -> str | None:
    """An answer through the proxy: the verifier's headers went upstream, not to us, so a valid
    token must reach the service (no 401/403, no 5xx) and anything else must be refused."""
    if kind != VALID:
        return _refused(kind, status, headers)
    if status in (401, 403) or status >= 500:
        return f"valid token answered {status} through the proxy"
    return None


def check_introspection(
    kind: str, status: int, body: Any, expected: Mapping[str, str]
) -> str | None:
    """RFC 7662: live tokens (a wrong-service token is live) are active with the right ``sub``
    and ``client_id``; expired and revoked tokens are ``{"active": false}`` and nothing else."""
    if status != 200 or not isinstance(body, dict):
        return f"introspection answered {status}"
    if kind in (EXPIRED, REVOKED):
        return None if body == {"active": False} else f"{kind} token introspected as {body}"
    if body.get("active") is not True:
        return f"{kind} token introspected as inactive"
    for name, value in expected.items():
        if body.get(name) != value:
            return f"introspection {name}={body.get(name)!r}, expected {value!r}"
    return None


def check_registered(status: int, headers: Mapping[str, str], body: Any) -> str | None:
    """RFC 7591 §3.2.1: 201, no-store, the credentials and the configuration endpoint."""
    if status != 201 or not isinstance(body, dict):
        return f"registration answered {status}"
    if "no-store" not in lower_keys(headers).get("cache-control", ""):
        return "registration response without Cache-Control: no-store"
    for name in ("client_id", "registration_access_token", "registration_client_uri"):
        if not body.get(name):
            return f"registration response without {name}"
    if body.get("token_endpoint_auth_method") != "none" and not body.get("client_secret"):
        return "confidential client registered without a client_secret"
    return None


def check_client_read(status: int, body: Any, client_id: str) -> str | None:
    """RFC 7592 §2.1: the current metadata, and never the client secret (only its hash is kept)."""
    if status != 200 or not isinstance(body, dict):
        return f"client read answered {status}"
    if body.get("client_id") != client_id:
        return f"client read returned client_id {body.get('client_id')!r}"
    if "client_secret" in body:
        return "client read disclosed a client_secret"
    return None


def check_token_response(status: int, body: Any, previous_refresh: str | None) -> str | None:
    """A /token success: Bearer access token and a rotated refresh token (OAuth 2.1 §4.3.1)."""
    if status != 200 or not isinstance(body, dict):
        return f"token endpoint answered {status}"
    if body.get("token_type") != "Bearer" or not body.get("access_token"):
        return "token response without a Bearer access_token"
    refresh = body.get("refresh_token")
    if not refresh or refresh == previous_refresh:
        return "refresh token missing or not rotated"
    return None


def check_refused_grant(status: int, body: Any) -> str | None:
    """A revoked or rotated refresh token must get 400 invalid_grant (RFC 6749 §5.2)."""
    error = body.get("error") if isinstance(body, dict) else None
    if status != 400 or error != "invalid_grant":
        return f"revoked refresh token answered {status} {error}, expected 400 invalid_grant"
    return None
