"""Protected resource metadata (RFC 9728 §2, §3) for the forwarded host.

``resource`` is the canonical resource URI exactly as tokens carry it in ``aud`` (RFC 9728 §3.3:
the client checks it equals the resource it asked about), ``authorization_servers`` names the
issuer, and bearer tokens are accepted in the header only (RFC 6750 §2.1; never a query).
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from .resources import Resource

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
