"""JSON Schemas (2020-12, as OpenAPI 3.1 uses) of what the issuer reads and answers.

Plain dicts, assembled into operations by ``openapi``. Responses require what the RFCs require
and what this issuer always sends, and keep ``additionalProperties`` open wherever the RFC lets
servers add members, so a valid RFC response is never rejected.
"""

from __future__ import annotations

from typing import Any, get_args

from ..oauth.client_metadata import (
    APPLICATION_TYPES,
    AUTH_METHODS,
    MAX_CONTACTS,
    MAX_LIST,
    MAX_REDIRECT_URIS,
    MAX_TEXT,
    TEXT_MEMBERS,
    URL_MEMBERS,
)
from ..oauth.errors import ErrorCode
from ..oauth.grants import GRANT_TYPES, REGISTRABLE_GRANT_TYPES

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
STRINGS: Schema = {"type": "array", "items": STRING}
OBJECT: Schema = {"type": "object"}


def nullable(schema: Schema) -> Schema:
    """Optional client metadata sent as JSON ``null`` counts as omitted (see client_metadata)."""
    return {"anyOf": [schema, {"type": "null"}]}


def oauth_error(*codes: ErrorCode) -> Schema:
    """RFC 6749 §5.2 error response (also RFC 6750 §3.1, RFC 7591 §3.2.2, RFC 8707 §2);
    ``codes`` narrows ``error`` to what the operation can answer with that status."""
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string", "enum": list(codes or get_args(ErrorCode))},
            "error_description": STRING,
            "error_uri": STRING,
        },
    }


# RFC 7591 §2 client metadata, with this issuer's limits (README, Client registration).
_TEXT: Schema = {"type": "string", "minLength": 1, "maxLength": MAX_TEXT}
_URL: Schema = {"type": "string", "format": "uri", "maxLength": 2000}
_METADATA: dict[str, Schema] = {
    "redirect_uris": {
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_REDIRECT_URIS,
        "items": {"type": "string", "format": "uri"},
    },
    "token_endpoint_auth_method": {"type": "string", "enum": list(AUTH_METHODS)},
    "grant_types": {
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_LIST,
        "items": {"type": "string", "enum": list(REGISTRABLE_GRANT_TYPES)},
    },
    "response_types": {
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_LIST,
        "items": {"type": "string", "enum": ["code"]},
    },
    "application_type": {"type": "string", "enum": list(APPLICATION_TYPES)},
    "scope": STRING,
    **{name: _TEXT for name in TEXT_MEMBERS},
    **{name: _URL for name in URL_MEMBERS},
    "contacts": {"type": "array", "minItems": 1, "maxItems": MAX_CONTACTS, "items": STRING},
}

CLIENT_METADATA_REQUEST: Schema = {
    "type": "object",
    "required": ["redirect_uris"],
    # RFC 7591 §2: unknown members are ignored (and not echoed).
    "properties": {
        name: schema if name == "redirect_uris" else nullable(schema)
        for name, schema in _METADATA.items()
    },
}
# RFC 7592 §2.2: a full replacement that names the client; client_secret only if unchanged.
CLIENT_UPDATE_REQUEST: Schema = {
    "type": "object",
    "required": ["client_id", "redirect_uris"],
    "properties": {
        **CLIENT_METADATA_REQUEST["properties"],
        "client_id": STRING,
        "client_secret": STRING,
    },
}


def client_information(*extra_required: str) -> Schema:
    """RFC 7591 §3.2.1 / RFC 7592 §3 client information response: all registered metadata
    (defaults filled in) plus identifiers; ``client_secret_expires_at`` is REQUIRED with a
    secret. Open: a server may return more metadata than was sent."""
    response_metadata = {
        name: {key: value for key, value in schema.items() if key != "format"}
        for name, schema in _METADATA.items()
    }
    return {
        "type": "object",
        "required": [
            "client_id",
            "client_id_issued_at",
            "registration_client_uri",
            "redirect_uris",
            "token_endpoint_auth_method",
            "grant_types",
            "response_types",
            *extra_required,
        ],
        "properties": {
            **response_metadata,
            "client_id": {"type": "string", "minLength": 1},
            "client_secret": {"type": "string", "minLength": 1},
            "client_id_issued_at": INTEGER,
            "client_secret_expires_at": {"type": "integer", "minimum": 0},
            "registration_access_token": {"type": "string", "minLength": 1},
            "registration_client_uri": STRING,
        },
        "dependentRequired": {"client_secret": ["client_secret_expires_at"]},
    }


def form(properties: dict[str, Schema], *required: str) -> Schema:
    """An ``application/x-www-form-urlencoded`` request body (RFC 6749 §3.2, Appendix B);
    ``resource`` repeats (RFC 8707 §2)."""
    schema: Schema = {"type": "object", "properties": properties, "required": list(required)}
    encoding = {
        name: {"style": "form", "explode": True}
        for name in ("resource", "audience")
        if name in properties
    }
    media: Schema = {"schema": schema, **({"encoding": encoding} if encoding else {})}
    return {"required": True, "content": {"application/x-www-form-urlencoded": media}}


RESOURCES: Schema = {"type": "array", "items": {"type": "string", "format": "uri"}}
# RFC 6749 §2.3.1 in the body, or private_key_jwt (RFC 7523 §2.2, RFC 7521 §4.2).
CLIENT_CREDENTIALS: dict[str, Schema] = {
    "client_id": STRING,
    "client_secret": STRING,
    "client_assertion_type": STRING,
    "client_assertion": STRING,
}
TOKEN_FORM = form(
    {
        "grant_type": {"type": "string", "enum": list(GRANT_TYPES)},
        "code": STRING,
        "redirect_uri": STRING,
        # RFC 7636 §4.1
        "code_verifier": {"type": "string", "pattern": "^[A-Za-z0-9._~-]{43,128}$"},
        "refresh_token": STRING,
        "scope": STRING,
        "resource": RESOURCES,
        # RFC 8693 §2.1 (token exchange)
        "subject_token": STRING,
        "subject_token_type": STRING,
        "requested_token_type": STRING,
        "audience": {"type": "array", "items": STRING},
        **CLIENT_CREDENTIALS,
    },
    "grant_type",
)
# RFC 7009 §2.1 / RFC 7662 §2.1; an unknown token_type_hint is ignored, so any string.
TOKEN_HINT_FORM = form({"token": STRING, "token_type_hint": STRING, **CLIENT_CREDENTIALS}, "token")
CONSENT_FORM = form(
    {
        "request_id": STRING,
        "csrf_token": STRING,
        # approve:<provider> when LOGIN_PROVIDERS lists several (login.providers).
        "action": {"type": "string", "enum": ["approve", "approve:github", "approve:oidc", "deny"]},
        "remember": {"type": "string", "enum": ["yes"]},
    },
    "request_id",
    "csrf_token",
    "action",
)

# RFC 6749 §5.1 (token_type is case-insensitive, RFC 6750 §4; this issuer sends "Bearer").
_ISSUED_TOKEN: dict[str, Schema] = {
    "access_token": {"type": "string", "minLength": 1},
    "token_type": {"type": "string", "pattern": "^[Bb][Ee][Aa][Rr][Ee][Rr]$"},
}
TOKEN_RESPONSE: Schema = {
    "oneOf": [
        {
            "type": "object",
            "required": ["access_token", "token_type", "expires_in"],
            "properties": {
                **_ISSUED_TOKEN,
                "expires_in": {"type": "integer", "minimum": 1},
                "refresh_token": {"type": "string", "minLength": 1},
                "scope": STRING,
            },
            "not": {"required": ["issued_token_type"]},
        },
        {
            # RFC 8693 §2.2.1: the user's upstream token; no expires_in when it never expires.
            "type": "object",
            "required": ["access_token", "token_type", "issued_token_type"],
            "properties": {
                **_ISSUED_TOKEN,
                "issued_token_type": {
                    "type": "string",
                    "enum": ["urn:ietf:params:oauth:token-type:access_token"],
                },
                "expires_in": {"type": "integer", "minimum": 0},
            },
        },
    ]
}
# RFC 7662 §2.2
INTROSPECTION_RESPONSE: Schema = {
    "type": "object",
    "required": ["active"],
    "properties": {
        "active": {"type": "boolean"},
        **{name: STRING for name in ("scope", "client_id", "username", "token_type")},
        **{name: INTEGER for name in ("exp", "iat", "nbf")},
        **{name: STRING for name in ("sub", "iss", "jti")},
        "aud": {"anyOf": [STRING, STRINGS]},
    },
}

_URLS = (
    "authorization_endpoint",
    "token_endpoint",
    "registration_endpoint",
    "revocation_endpoint",
    "introspection_endpoint",
    "jwks_uri",
)
# RFC 8414 §2 (plus RFC 9207 §3); `code_challenge_methods_supported` is what MCP clients need.
SERVER_METADATA: Schema = {
    "type": "object",
    "required": [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "response_types_supported",
        "code_challenge_methods_supported",
    ],
    "properties": {
        "issuer": {"type": "string", "pattern": "^https?://[^?#]+$"},
        **{name: STRING for name in _URLS},
        **{
            name: STRINGS
            for name in (
                "response_types_supported",
                "response_modes_supported",
                "grant_types_supported",
                "code_challenge_methods_supported",
                "token_endpoint_auth_methods_supported",
                "revocation_endpoint_auth_methods_supported",
                "introspection_endpoint_auth_methods_supported",
                "scopes_supported",
            )
        },
        "authorization_response_iss_parameter_supported": {"type": "boolean"},
    },
}
# RFC 7517 §5 (set) and §4 (keys: kty required, the rest optional and extensible); the members
# are those of RSA (RFC 7518 §6.3.1) and EC P-256 (§6.2.1) public keys, RS256 or ES256.
JWK_SET: Schema = {
    "type": "object",
    "required": ["keys"],
    "properties": {
        "keys": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["kty"],
                "properties": {
                    name: STRING for name in ("kty", "use", "alg", "kid", "n", "e", "crv", "x", "y")
                },
            },
        }
    },
}


def health(status: str, redis: str) -> Schema:
    return {
        "type": "object",
        "required": ["status", "redis", "version", "uptime"],
        "properties": {
            "status": {"const": status},
            "redis": {"const": redis},
            "version": STRING,
            "uptime": {"type": "integer", "minimum": 0},
        },
    }

# The account page's POST (endpoints.account): every action needs the CSRF token.
ACCOUNT_FORM = form(
    {
        "csrf_token": STRING,
        "action": {
            "type": "string",
            "enum": ["revoke", "revoke_all", "forget", "forget_all", "sign_out"],
        },
        "grant_id": STRING,
        "approval": STRING,
    },
    "csrf_token",
    "action",
)
