"""Client metadata of RFC 7591 §2: parsing of the JSON body and typed validation.

Pure functions. ``validate_client_metadata`` returns what is really registered: only the members
we support, defaults filled in (RFC 7591 §3.2.1); unknown members are dropped, not echoed. A
member sent as JSON ``null`` counts as omitted, as SDKs serialise unset optional fields that way.
Problems with ``redirect_uris`` are ``invalid_redirect_uri``, every other problem
``invalid_client_metadata`` (RFC 7591 §3.2.2), each with a description a developer can act on.
URLs must be RFC 3986 URIs, text members (shown to users on the consent page) must be visible
text only, contacts must be e-mail addresses.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson

from ..settings import IssuerSettings
from .client_jwks import jwks_problem
from .errors import InvalidClientMetadata, InvalidRedirectUri
from .grants import REGISTRABLE_GRANT_TYPES
from .redirect_uris import uri_problem, validate_redirect_uri

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none", "private_key_jwt")
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
"""The methods for which registration issues a client secret."""
APPLICATION_TYPES = ("web", "native")
URL_MEMBERS = ("client_uri", "logo_uri", "tos_uri", "policy_uri")
TEXT_MEMBERS = ("client_name", "software_id", "software_version")
MAX_REDIRECT_URIS = 20
MAX_CONTACTS = 10
MAX_TEXT = 200
MAX_CONTACT = 320
MAX_LIST = 10
# Unicode general categories that never belong in text shown to a user: controls (Cc), format
# characters (Cf: bidi overrides and isolates, zero-width joiners and spaces, tags, BOM),
# private use (Co), surrogates (Cs), unassigned (Cn: tomorrow's format characters) and the
# line / paragraph separators (Zl, Zp), which end a bidi paragraph. Unicode TR #9 §2, UTS #39.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})
# Blank letters and symbols outside those categories that render as nothing (UTS #39 §3.1,
# Default_Ignorable_Code_Point and blank look-alikes), so a name can hide text between them.
INVISIBLE = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u180e\u2800\u3164\uffa0")
# RFC 5322 §3.2.3 atext, and RFC 1035 §2.3.1 labels: the e-mail address RFC 7591 §2 expects.
_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")
_DNS_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


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
    hidden = hidden_character(value)
    if hidden is not None:
        # Trojan Source (CVE-2021-42574) on a consent page: U+202E in a client_name reverses
        # the rest of the sentence, the "not verified" warning included.
        raise InvalidClientMetadata(
            f"{name} must not contain control characters or invisible or bidi-control Unicode "
            f"characters (found U+{ord(hidden):04X} {unicodedata.name(hidden, 'unnamed')})"
        )
    return value


def hidden_character(text: str) -> str | None:
    """The first character of ``text`` a user could not see as itself, or None."""
    for char in text:
        if unicodedata.category(char) in HIDDEN_CATEGORIES or char in INVISIBLE:
            return char
    return None


def is_email_address(value: str) -> bool:
    """A plain ``local@domain`` address (RFC 5322 §3.4.1 dot-atom forms, ASCII; an IDN
    domain in its A-label form): what a person can be written to, nothing a browser runs."""
    local, at, domain = value.partition("@")
    if not at or len(value) > MAX_CONTACT or len(local) > 64 or len(domain) > 253:
        return False
    if not all(_ATEXT.fullmatch(atom) for atom in local.split(".")):
        return False  # also: empty local part, '@' twice, spaces, controls, '<>', leading dot
    labels = domain.split(".")
    # At least two labels and a non-numeric TLD: a domain mail can be delivered to, not
    # ``localhost`` or an IP address.
    return (
        len(labels) >= 2
        and all(_DNS_LABEL.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()
    )


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


def _keys(data: Mapping[str, Any], auth_method: str) -> dict[str, Any]:
    """``jwks`` or ``jwks_uri`` (RFC 7591 §2: never both) of a private_key_jwt client, which
    needs one (RFC 7523 §2.2: its assertions are verified with them). Other clients have no use
    for keys: theirs are dropped like unknown members."""
    if auth_method != "private_key_jwt":
        return {}
    jwks, jwks_uri = data.get("jwks"), _url(data, "jwks_uri")
    if jwks is not None and jwks_uri is not None:
        raise InvalidClientMetadata("use jwks or jwks_uri, not both (RFC 7591 §2)")
    if jwks is not None:
        problem = jwks_problem(jwks)
        if problem is not None:
            raise InvalidClientMetadata(f"jwks {problem}")
        return {"jwks": {"keys": list(jwks["keys"])}}
    if jwks_uri is None:
        raise InvalidClientMetadata(
            "token_endpoint_auth_method private_key_jwt needs jwks or jwks_uri"
        )
    if urlsplit(jwks_uri).scheme != "https":
        raise InvalidClientMetadata("jwks_uri must be an https URL")
    return {"jwks_uri": jwks_uri}


def validate_client_metadata(data: Mapping[str, Any], settings: IssuerSettings) -> dict[str, Any]:
    """The metadata to register, defaults filled in; raises on the first problem found."""
    redirect_uris = _redirect_uris(data, settings)
    auth_method = _choice(data, "token_endpoint_auth_method", AUTH_METHODS, AUTH_METHODS[0])
    grant_types = _text_list(data, "grant_types", MAX_LIST) or ["authorization_code"]
    if not set(grant_types) <= set(REGISTRABLE_GRANT_TYPES):
        allowed = ", ".join(REGISTRABLE_GRANT_TYPES)
        raise InvalidClientMetadata(f"grant_types must be a subset of {allowed}")
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
        # RFC 7591 §2: "typically email addresses"; we take nothing else, so no URI
        # (``javascript:...``) is ever stored where a tool might render it as a link.
        if not is_email_address(contact):
            shown = contact if len(contact) <= 100 else contact[:100] + "..."
            raise InvalidClientMetadata(
                f"contacts must be e-mail addresses such as dev@example.com (at most "
                f"{MAX_CONTACT} chars); {shown!r} is not one"
            )
    metadata["contacts"] = contacts
    metadata.update(_keys(data, auth_method))
    return {name: value for name, value in metadata.items() if value is not None}
