"""Client metadata of RFC 7591 §2: parsing of the JSON body and typed validation.

Pure functions. ``validate_client_metadata`` returns what is really registered: only the members
we support, defaults filled in (RFC 7591 §3.2.1); unknown members are dropped, not echoed. A
member sent as JSON ``null`` counts as omitted, as SDKs serialise unset optional fields that way.
Problems with ``redirect_uris`` are ``invalid_redirect_uri``, every other problem
``invalid_client_metadata`` (RFC 7591 §3.2.2), each with a description a developer can act on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson

from .errors import InvalidClientMetadata, InvalidRedirectUri
from .redirect_uris import uri_problem, validate_redirect_uri
from .settings import IssuerSettings

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
GRANT_TYPES = ("authorization_code", "refresh_token")
APPLICATION_TYPES = ("web", "native")
URL_MEMBERS = ("client_uri", "logo_uri", "tos_uri", "policy_uri")
TEXT_MEMBERS = ("client_name", "software_id", "software_version")
MAX_REDIRECT_URIS = 20
MAX_CONTACTS = 10
MAX_TEXT = 200
MAX_CONTACT = 320
MAX_LIST = 10


def parse_json_object(content_type: str | None, body: bytes) -> dict[str, Any]:
    """The body as a JSON object; RFC 7591 §3.1 requests are ``application/json``.

    Every refusal is ``invalid_client_metadata`` so a registering client only ever has to handle
    the two RFC 7591 error codes.
    """
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise InvalidClientMetadata(
            "the request body must be JSON (Content-Type: application/json)"
        )
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidClientMetadata("the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidClientMetadata("the request body must be a JSON object of client metadata")
    return data


def _text(data: Mapping[str, Any], name: str, max_len: int = MAX_TEXT) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise InvalidClientMetadata(f"{name} must be a non-empty string of at most {max_len} chars")
    if any(c < " " or c == "\x7f" for c in value):
        raise InvalidClientMetadata(f"{name} must not contain control characters")
    return value


def _text_list(data: Mapping[str, Any], name: str, max_items: int) -> list[str] | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not value or len(value) > max_items:
        raise InvalidClientMetadata(f"{name} must be a non-empty JSON array of at most {max_items}")
    if not all(isinstance(item, str) for item in value):
        raise InvalidClientMetadata(f"every item of {name} must be a string")
    return list(dict.fromkeys(value))  # duplicates dropped, order kept


def _choice(data: Mapping[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = data.get(name)
    if value is None:
        return default
    if value not in allowed:
        raise InvalidClientMetadata(f"{name} must be one of {', '.join(allowed)}")
    return str(value)


def _redirect_uris(data: Mapping[str, Any], settings: IssuerSettings) -> list[str]:
    value = data.get("redirect_uris")
    # RFC 7591 §2: required for redirect-based flows, and authorization_code is our only flow.
    if not isinstance(value, list) or not value or len(value) > MAX_REDIRECT_URIS:
        raise InvalidRedirectUri(
            f"redirect_uris is required: a JSON array of 1 to {MAX_REDIRECT_URIS} URI strings"
        )
    for uri in value:
        if not isinstance(uri, str):
            raise InvalidRedirectUri("every item of redirect_uris must be a string")
        validate_redirect_uri(uri, settings.app_schemes)
    return list(dict.fromkeys(value))


def _scope(data: Mapping[str, Any], settings: IssuerSettings) -> str:
    value = data.get("scope")
    if value is None:
        return settings.default_scope
    supported = " ".join(settings.scopes_supported)
    if not isinstance(value, str) or not value:
        raise InvalidClientMetadata(f"scope must be a space-separated string from: {supported}")
    tokens = value.split(" ")
    if "" in tokens:
        raise InvalidClientMetadata("scope must be scope tokens separated by single spaces")
    unknown = [token for token in tokens if token not in settings.scopes_supported]
    if unknown:
        raise InvalidClientMetadata(
            f"scope {' '.join(unknown)!r} is not supported; supported scopes: {supported}"
        )
    return " ".join(dict.fromkeys(tokens))


def _url(data: Mapping[str, Any], name: str) -> str | None:
    value = _text(data, name, max_len=2000)
    if value is None:
        return None
    problem = uri_problem(value, ())
    if problem is None and urlsplit(value).scheme not in ("https", "http"):
        problem = "not an http(s) URL"
    if problem is not None:
        raise InvalidClientMetadata(
            f"{name} must be an https URL (http only on loopback hosts): {problem}"
        )
    return value


def validate_client_metadata(data: Mapping[str, Any], settings: IssuerSettings) -> dict[str, Any]:
    """The metadata to register, defaults filled in; raises on the first problem found."""
    redirect_uris = _redirect_uris(data, settings)
    auth_method = _choice(data, "token_endpoint_auth_method", AUTH_METHODS, AUTH_METHODS[0])
    grant_types = _text_list(data, "grant_types", MAX_LIST) or ["authorization_code"]
    if not set(grant_types) <= set(GRANT_TYPES):
        raise InvalidClientMetadata(f"grant_types must be a subset of {', '.join(GRANT_TYPES)}")
    if "authorization_code" not in grant_types:
        # refresh_token alone could never obtain a first token here.
        raise InvalidClientMetadata("grant_types must include authorization_code")
    response_types = _text_list(data, "response_types", MAX_LIST) or ["code"]
    if response_types != ["code"]:
        # RFC 7591 §2.1: the authorization_code grant goes with the "code" response type.
        raise InvalidClientMetadata('response_types must be ["code"] (authorization_code grant)')
    metadata: dict[str, Any] = {
        "redirect_uris": redirect_uris,
        "token_endpoint_auth_method": auth_method,
        "grant_types": grant_types,
        "response_types": response_types,
        # OpenID Connect Dynamic Registration §2: "web" when omitted.
        "application_type": _choice(data, "application_type", APPLICATION_TYPES, "web"),
        "scope": _scope(data, settings),
    }
    for name in TEXT_MEMBERS:
        metadata[name] = _text(data, name)
    for name in URL_MEMBERS:
        metadata[name] = _url(data, name)
    contacts = _text_list(data, "contacts", MAX_CONTACTS)
    for contact in contacts or []:
        if not contact or len(contact) > MAX_CONTACT or any(c < " " for c in contact):
            raise InvalidClientMetadata(
                f"contacts must be e-mail addresses (at most {MAX_CONTACT} chars)"
            )
    metadata["contacts"] = contacts
    return {name: value for name, value in metadata.items() if value is not None}
