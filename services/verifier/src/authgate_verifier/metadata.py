"""Protected resource metadata (RFC 9728 §2, §3) for the forwarded host.

``resource`` is the canonical resource URI exactly as tokens carry it in ``aud`` (RFC 9728 §3.3:
the client checks it equals the resource it asked about), ``authorization_servers`` names the
issuer, and bearer tokens are accepted in the header only (RFC 6750 §2.1; never a query).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from authgate_shared.errors import INVALID_REQUEST

from .challenge import Message, error_response
from .resources import BadForwardedRequest, Resource, ResourceResolver

WELL_KNOWN = "/.well-known/oauth-protected-resource"


def metadata_document(resource: Resource, issuer_url: str, scopes: Iterable[str]) -> bytes:
    supported = sorted(set(scopes) | resource.required_scopes)
    return orjson.dumps(
        {
            "resource": resource.uri,
            "authorization_servers": [issuer_url],
            "scopes_supported": supported,
            "bearer_methods_supported": ["header"],
        }
    )


def metadata_response(
    resolver: ResourceResolver,
    scope: dict[str, Any],
    path: str,
    issuer_url: str,
    scopes: Iterable[str],
    cors_headers: Iterable[tuple[bytes, bytes]] = (),
) -> tuple[Message, Message] | None:
    """The ASGI start and body messages of ``path``'s metadata; None when no resource has it.
    ``cors_headers``: the request origin's (a public document, readable by browser clients)."""
    headers = dict(scope["headers"])
    try:
        resource = resolver.for_metadata_path(
            scope["query_string"],
            headers.get(b"x-forwarded-proto"),
            headers.get(b"x-forwarded-host"),
            path[len(WELL_KNOWN) :].rstrip("/"),
        )
    except BadForwardedRequest as exc:
        return error_response(400, INVALID_REQUEST, str(exc), more=cors_headers)
    except LookupError:
        return None
    body = metadata_document(resource, issuer_url, scopes)
    start: Message = {
        "type": "http.response.start",
        "status": 200,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"public, max-age=300"),
            *cors_headers,
        ],
    }
    return start, {"type": "http.response.body", "body": body}
