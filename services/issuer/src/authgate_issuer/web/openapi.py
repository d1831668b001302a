"""The served OpenAPI document (``/openapi.json``): FastAPI's routes plus what it cannot see.

Handlers parse their own requests (RFC 7591 JSON, RFC 6749 forms, ``/authorize`` queries) and
build their own responses, so FastAPI alone would describe no inputs, ``{}`` responses and a
422 the issuer never sends (malformed requests are 400 ``invalid_request``, RFC 6749 §5.2).
``install(app)`` replaces the generator: each operation gets its request shape and every status
it really answers with, from ``openapi_schemas``; the 422 and its components are removed.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from authgate_shared import errors

from ..oauth.errors import ErrorCode
from . import openapi_schemas as s

Operation = dict[str, Any]
JSON = "application/json"
HTML = {"text/html": {"schema": s.STRING}}


def _json(description: str, schema: s.Schema, **headers: s.Schema) -> Operation:
    response: Operation = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        response["headers"] = {
            name: {"required": True, "schema": value} for name, value in headers.items()
        }
    return response


def _error(description: str, *codes: ErrorCode, **headers: s.Schema) -> Operation:
    return _json(description, s.oauth_error(*codes), **headers)


def _redirect(description: str) -> Operation:
    return {
        "description": description,
        "headers": {"Location": {"required": True, "schema": s.STRING}},
    }


def _query(name: str, schema: s.Schema, *, required: bool = False, **extra: Any) -> Operation:
    return {"name": name, "in": "query", "required": required, "schema": schema, **extra}


RETRY_AFTER = s.STRING  # RFC 9110 §10.2.3: delay-seconds (this issuer) or an HTTP-date
TOO_LARGE = _error("body larger than MAX_BODY_BYTES", errors.INVALID_REQUEST)
TOO_MANY = _error(
    "rate limit (per address, registrations per hour, or a client metadata document host's"
    " fetch budget)",
    errors.TOO_MANY_REQUESTS,
    **{"Retry-After": RETRY_AFTER},
)
UNAVAILABLE = _error("Redis is unreachable; retry", errors.TEMPORARILY_UNAVAILABLE)
# RFC 6749 §5.2: invalid_client is 401 with a WWW-Authenticate challenge (RFC 9110 §15.5.2).
BAD_CLIENT = _error(
    "client authentication failed",
    errors.INVALID_CLIENT,
    **{"WWW-Authenticate": {"type": "string", "pattern": "^Basic "}},
)
# RFC 7592 §2 / RFC 6750 §3.1: the same answer for a bad token and an unknown client.
BAD_TOKEN = _error(
    "registration access token missing or invalid, or no such client",
    errors.INVALID_TOKEN,
    **{"WWW-Authenticate": {"type": "string", "pattern": "^Bearer "}},
)
BAD_METADATA = _error(
    "RFC 7591 §3.2.2", errors.INVALID_REDIRECT_URI, errors.INVALID_CLIENT_METADATA
)
CLIENT_AUTH: list[dict[str, list[str]]] = [{"clientBasic": []}, {}]  # {}: client_id in the form
CLIENT_ID = {
    "name": "client_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"},
}
BROWSER_COOKIE = {
    "name": "__Host-authgate-browser",
    "in": "cookie",
    "required": False,
    "schema": s.STRING,
}
ACCOUNT_COOKIE = {**BROWSER_COOKIE, "name": "__Host-authgate-account"}
CACHED = {"ETag": s.STRING, "Cache-Control": s.STRING}
NOT_MODIFIED = {"description": "If-None-Match matched (RFC 9110 §15.4.5)"}
TOKEN_ERRORS: tuple[ErrorCode, ...] = (
    errors.INVALID_REQUEST,
    errors.INVALID_GRANT,
    errors.UNAUTHORIZED_CLIENT,
    errors.UNSUPPORTED_GRANT_TYPE,
    errors.INVALID_SCOPE,
    errors.INVALID_TARGET,
)

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("/health", "get"): {
        "responses": {
            "200": _json("healthy", s.health("healthy", "connected")),
            "503": _json("Redis does not answer", s.health("unhealthy", "disconnected")),
        }
    },
    **{
        (path, "get"): {
            "responses": {
                "200": _json("RFC 8414 §3.2 server metadata", s.SERVER_METADATA, **CACHED),
                "304": NOT_MODIFIED,
            }
        }
        for path in ("/.well-known/oauth-authorization-server",)
    },
    ("/jwks", "get"): {
        "responses": {
            "200": _json("RFC 7517 §5 JWK Set", s.JWK_SET, **CACHED),
            "304": NOT_MODIFIED,
        }
    },
    ("/register", "post"): {
        "requestBody": {"required": True, "content": {JSON: {"schema": s.CLIENT_METADATA_REQUEST}}},
        "responses": {
            "201": _json(
                "RFC 7591 §3.2.1 client information",
                s.client_information("registration_access_token"),
            ),
            "400": BAD_METADATA,
            "413": TOO_LARGE,
            "429": TOO_MANY,
            "503": UNAVAILABLE,
        },
    },
    ("/register/{client_id}", "get"): {
        "parameters": [CLIENT_ID],
        "security": [{"registrationToken": []}],
        "responses": {
            "200": _json("RFC 7592 §2.1 current registration", s.client_information()),
            "401": BAD_TOKEN,
            "503": UNAVAILABLE,
        },
    },
    ("/register/{client_id}", "put"): {
        "parameters": [CLIENT_ID],
        "security": [{"registrationToken": []}],
        "requestBody": {"required": True, "content": {JSON: {"schema": s.CLIENT_UPDATE_REQUEST}}},
        "responses": {
            "200": _json(
                "RFC 7592 §2.2 updated registration, new registration_access_token",
                s.client_information("registration_access_token"),
            ),
            "400": BAD_METADATA,
            "401": BAD_TOKEN,
            "413": TOO_LARGE,
            "503": UNAVAILABLE,
        },
    },
    ("/register/{client_id}", "delete"): {
        "parameters": [CLIENT_ID],
        "security": [{"registrationToken": []}],
        "responses": {
            "204": {"description": "RFC 7592 §2.3 deleted"},
            "401": BAD_TOKEN,
            "503": UNAVAILABLE,
        },
    },
    ("/authorize", "get"): {
        # OAuth 2.1 §4.1.1 with PKCE S256 required (RFC 7636 §4.3), RFC 8707 §2 resources.
        "parameters": [
            _query("response_type", {"type": "string", "enum": ["code"]}, required=True),
            _query("client_id", s.STRING, required=True),
            _query("redirect_uri", s.STRING),
            _query(
                "code_challenge",
                {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"},
                required=True,
            ),
            _query("code_challenge_method", {"type": "string", "enum": ["S256"]}, required=True),
            _query("state", s.STRING),
            _query("scope", s.STRING),
            _query("resource", s.RESOURCES, style="form", explode=True),
            BROWSER_COOKIE,
        ],
        "responses": {
            "200": {"description": "the consent page", "content": HTML},
            "302": _redirect("to GitHub (remembered consent) or an error to the client (RFC 9207)"),
            "400": {
                "description": "bad client or redirect URI, or an unusable client metadata "
                "document: a page, never a redirect (OAuth 2.1 §4.1.2.1)",
                "content": HTML,
            },
            "429": {
                "description": "a client metadata document host's fetch budget is spent: a page",
                "content": HTML,
            },
            "503": UNAVAILABLE,
        },
    },
    ("/authorize/consent", "post"): {
        "parameters": [BROWSER_COOKIE],
        "requestBody": s.CONSENT_FORM,
        "responses": {
            "303": _redirect(
                "to the login provider (approve), or an error (access_denied on deny,"
                " temporarily_unavailable when the provider is down) to the client (RFC 9700 §4.12)"
            ),
            "400": {"description": "expired, used or malformed consent form", "content": HTML},
            "403": {"description": "CSRF check failed", "content": HTML},
            "413": TOO_LARGE,
            "503": UNAVAILABLE,
        },
    },
    ("/callback", "get"): {
        "parameters": [
            *(_query(name, s.STRING) for name in ("code", "state", "error", "error_description")),
            BROWSER_COOKIE,
        ],
        "responses": {
            "302": _redirect(
                "to the client with code, state and iss, or an error (RFC 9207); to /account "
                "after an account page sign-in"
            ),
            "400": {"description": "unknown or used state, or another browser", "content": HTML},
            "503": UNAVAILABLE,
        },
    },
    ("/token", "post"): {
        "security": CLIENT_AUTH,
        "requestBody": s.TOKEN_FORM,
        "responses": {
            "200": _json("RFC 6749 §5.1; RFC 8693 §2.2.1 for token exchange", s.TOKEN_RESPONSE),
            "400": _error("RFC 6749 §5.2, RFC 8707 §2, RFC 8693 §2.2.2", *TOKEN_ERRORS),
            "401": BAD_CLIENT,
            "413": TOO_LARGE,
            "429": TOO_MANY,
            "503": UNAVAILABLE,
        },
    },
    ("/revoke", "post"): {
        "security": CLIENT_AUTH,
        "requestBody": s.TOKEN_HINT_FORM,
        "responses": {
            "200": _json("RFC 7009 §2.2: revoked, or nothing to revoke", s.OBJECT),
            "400": _error("RFC 7009 §2.2.1", errors.INVALID_REQUEST),
            "401": BAD_CLIENT,
            "413": TOO_LARGE,
            "429": TOO_MANY,
            "503": UNAVAILABLE,
        },
    },
    ("/introspect", "post"): {
        "security": CLIENT_AUTH,
        "requestBody": s.TOKEN_HINT_FORM,
        "responses": {
            "200": _json("RFC 7662 §2.2", s.INTROSPECTION_RESPONSE),
            "400": _error("RFC 7662 §2.3", errors.INVALID_REQUEST),
            "401": BAD_CLIENT,
            "413": TOO_LARGE,
            "429": TOO_MANY,
            "503": UNAVAILABLE,
        },
    },
    ("/account", "get"): {
        "parameters": [BROWSER_COOKIE, ACCOUNT_COOKIE, _query("done", s.STRING)],
        "responses": {
            "200": {"description": "the Connected apps page", "content": HTML},
            "302": _redirect("no valid session: to GitHub's login, which returns to /callback"),
            "503": UNAVAILABLE,
        },
    },
    ("/account", "post"): {
        "parameters": [BROWSER_COOKIE, ACCOUNT_COOKIE],
        "requestBody": s.ACCOUNT_FORM,
        "responses": {
            "200": {"description": "signed out (the session cookie cleared)", "content": HTML},
            "303": _redirect("done: back to the page with a status message"),
            "400": {"description": "malformed form", "content": HTML},
            "403": {
                "description": "no valid session, CSRF check failed, or another origin",
                "content": HTML,
            },
            "404": {"description": "no such grant of this user; nothing changed", "content": HTML},
            "413": TOO_LARGE,
            "503": UNAVAILABLE,
        },
    },
    ("/metrics", "get"): {
        "operationId": "metrics",
        "summary": "Prometheus metrics (not to be routed publicly)",
        "responses": {
            "200": {
                "description": "text exposition format 0.0.4",
                "content": {"text/plain": {"schema": s.STRING}},
            }
        },
    },
}
SECURITY_SCHEMES = {
    # RFC 6749 §2.3.1; client_secret_post and public clients send client_id in the form instead.
    "clientBasic": {"type": "http", "scheme": "basic"},
    # RFC 7592 §3: the registration access token, as an RFC 6750 §2.1 bearer token.
    "registrationToken": {"type": "http", "scheme": "bearer"},
}


def document(generated: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's generated document with every operation's real inputs and responses."""
    doc = copy.deepcopy(generated)
    paths = doc.setdefault("paths", {})
    for (path, method), spec in OPERATIONS.items():
        operation = paths.setdefault(path, {}).setdefault(method, {})
        operation.update(copy.deepcopy(spec))
    for operations in paths.values():
        for operation in operations.values():
            operation.setdefault("responses", {}).pop("422", None)
    components = doc.setdefault("components", {})
    schemas = components.get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    if not schemas:
        components.pop("schemas", None)
    components["securitySchemes"] = SECURITY_SCHEMES
    return doc


def install(app: FastAPI) -> None:
    """Serve ``document(...)`` at the app's ``openapi_url``; built once, on first request."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            generated = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                routes=app.routes,
            )
            app.openapi_schema = document(generated)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
