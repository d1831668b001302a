"""What makes a fetched client metadata document usable
(draft-ietf-oauth-client-id-metadata-document §4).

* a JSON object whose ``client_id`` equals the URL it was fetched from, compared as strings
  (byte for byte, RFC 3986 §6.2.1): otherwise any page could claim any client id;
* no ``client_secret`` or ``client_secret_expires_at`` (nor any ``client_secret*``): nothing can
  establish a shared secret with a document, so only ``none`` (the default here) and
  ``private_key_jwt`` (with ``jwks`` or ``jwks_uri``) are accepted as
  ``token_endpoint_auth_method``;
* ``client_name`` present (the consent page shows it, beside the verified host);
* everything else under the rules of registered clients (``oauth.client_metadata``): valid
  redirect URIs under our redirect rules, visible text, e-mail contacts. A ``scope`` member is
  not taken: the document is written for every server, and our scopes are checked on each
  request.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..oauth.client_metadata import validate_client_metadata
from ..oauth.errors import OAuthError
from ..settings import IssuerSettings

AUTH_METHODS = ("none", "private_key_jwt")


class DocumentProblem(ValueError):
    """The document is unusable; the message completes "the client metadata document ..."."""


def validate_document(body: bytes, client_id: str, settings: IssuerSettings) -> dict[str, Any]:
    """The client metadata to use for ``client_id``; DocumentProblem otherwise."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise DocumentProblem("is not valid JSON") from None
    if not isinstance(data, dict):
        raise DocumentProblem("is not a JSON object")
    if data.get("client_id") != client_id:
        raise DocumentProblem("has a client_id that is not exactly the URL it was fetched from")
    secrets = sorted(name for name in data if name.startswith("client_secret"))
    if secrets:
        raise DocumentProblem(f"must not contain {', '.join(secrets)} (no shared secrets)")
    if data.get("client_name") is None:
        raise DocumentProblem("has no client_name")
    method = data.get("token_endpoint_auth_method") or "none"
    if method not in AUTH_METHODS:
        raise DocumentProblem("must use token_endpoint_auth_method none or private_key_jwt")
    members = {k: v for k, v in data.items() if k not in ("client_id", "scope")}
    try:
        return validate_client_metadata({**members, "token_endpoint_auth_method": method}, settings)
    except OAuthError as exc:
        raise DocumentProblem(f"is invalid: {exc.description}") from None
