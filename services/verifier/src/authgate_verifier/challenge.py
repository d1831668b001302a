"""``WWW-Authenticate`` challenges and the deny responses that carry them.

RFC 6750 §3: a request without credentials gets a bare ``Bearer`` challenge (no ``error``); a
presented but unusable token gets ``error="invalid_token"`` (401); a token lacking the resource's
scope gets ``error="insufficient_scope"`` with ``scope`` (403, §3.1). RFC 9728 §5.1 adds
``resource_metadata`` so an MCP client can discover the authorization server from any 401.

Every challenge names a ``scope`` (MCP 2025-11-25, "Scope Selection Strategy": a client asks
for the scope of the 401 first): the resource's required scopes, or, for a resource that
requires none, the issuer's default scope, which is what a client naming none is granted. The
403 names the required scopes, the ones the client must step up to (RFC 6750 §3.1).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from authgate_shared.errors import INSUFFICIENT_SCOPE, INVALID_REQUEST, INVALID_TOKEN
from authgate_shared.server.response_head import PREPARED_KEY, prepare_head

Headers = list[tuple[bytes, bytes]]
Message = dict[str, Any]


def quoted(value: str) -> str:
    """RFC 9110 §5.6.4 quoted-string."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True, slots=True)
class Challenges:
    missing: bytes
    invalid: bytes
    insufficient: bytes


def challenges_for(
    metadata_url: str, required_scopes: Iterable[str], default_scope: str = ""
) -> Challenges:
    meta = f"resource_metadata={quoted(metadata_url)}"
    required = " ".join(sorted(required_scopes))
    needed = required or default_scope
    scope_param = f", scope={quoted(needed)}" if needed else ""
    step_up = f", scope={quoted(required)}" if required else ""
    return Challenges(
        missing=f"Bearer {meta}{scope_param}".encode("latin-1"),
        invalid=f'Bearer error="{INVALID_TOKEN}", {meta}{scope_param}'.encode("latin-1"),
        insufficient=f'Bearer error="{INSUFFICIENT_SCOPE}"{step_up}, {meta}'.encode("latin-1"),
    )


BAD_REQUEST_CHALLENGE = f'Bearer error="{INVALID_REQUEST}"'.encode("latin-1")


def error_response(
    status: int,
    error: str,
    description: str,
    challenge: bytes | None = None,
    *,
    more: Iterable[tuple[bytes, bytes]] = (),
    **extra: str,
) -> tuple[Message, Message]:
    """The ASGI start and body messages of a small JSON error (RFC 6749 §5.2 shape), its header
    block prepared once (the verifier keeps these pairs per resource and reason). ``more``:
    further headers (the CORS ones)."""
    body = orjson.dumps({"error": error, "error_description": description})
    headers: Headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    if challenge is not None:
        headers.append((b"www-authenticate", challenge))
    headers.extend((k.replace("_", "-").encode(), v.encode()) for k, v in extra.items())
    headers.extend(more)
    return (
        {
            "type": "http.response.start",
            "status": status,
            "headers": headers,
            PREPARED_KEY: prepare_head(headers),
        },
        {"type": "http.response.body", "body": body},
    )
