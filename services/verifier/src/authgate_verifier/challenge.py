"""``WWW-Authenticate`` challenges and the deny responses that carry them.

RFC 6750 §3: a request without credentials gets a bare ``Bearer`` challenge (no ``error``); a
presented but unusable token gets ``error="invalid_token"`` (401); a token lacking the resource's
scope gets ``error="insufficient_scope"`` with ``scope`` (403, §3.1). RFC 9728 §5.1 adds
``resource_metadata`` so an MCP client can discover the authorization server from any 401.
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


def challenges_for(metadata_url: str, required_scopes: Iterable[str]) -> Challenges:
    meta = f"resource_metadata={quoted(metadata_url)}"
    scope = " ".join(sorted(required_scopes))
    scope_param = f", scope={quoted(scope)}" if scope else ""
    return Challenges(
        missing=f"Bearer {meta}{scope_param}".encode("latin-1"),
        invalid=f'Bearer error="{INVALID_TOKEN}", {meta}'.encode("latin-1"),
        insufficient=f'Bearer error="{INSUFFICIENT_SCOPE}"{scope_param}, {meta}'.encode("latin-1"),
    )


BAD_REQUEST_CHALLENGE = f'Bearer error="{INVALID_REQUEST}"'.encode("latin-1")


def error_response(
    status: int, error: str, description: str, challenge: bytes | None = None, **extra: str
) -> tuple[Message, Message]:
    """The ASGI start and body messages of a small JSON error (RFC 6749 §5.2 shape), its header
    block prepared once (the verifier keeps these pairs per resource and reason)."""
    body = orjson.dumps({"error": error, "error_description": description})
    headers: Headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    if challenge is not None:
        headers.append((b"www-authenticate", challenge))
    headers.extend((k.replace("_", "-").encode(), v.encode()) for k, v in extra.items())
    return (
        {
            "type": "http.response.start",
            "status": status,
            "headers": headers,
            PREPARED_KEY: prepare_head(headers),
        },
        {"type": "http.response.body", "body": body},
    )
