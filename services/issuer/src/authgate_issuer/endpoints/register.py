"""``POST /register``: dynamic client registration (RFC 7591 §3).

Open registration (MCP clients register themselves). The body is capped by the ``BodyLimit``
middleware (413). Secrets come from ``ctx.random`` and times from ``ctx.clock`` so tests can pin
them; only their SHA-256 hashes are stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from authgate_shared.runtime import RandomBytes

from ..context import context_of
from ..oauth.client_metadata import (
    SECRET_METHODS,
    parse_json_object,
    validate_client_metadata,
)
from ..oauth.credentials import hash_secret, new_id, new_secret
from ..store.clients import ClientRecord, save_client
from ..web import logs, metrics, rate_limits
from ..web.responses import json_response
from ..web.routing import DirectRoute

router = APIRouter(route_class=DirectRoute)


@dataclass(frozen=True)
class IssuedClient:
    """A new registration: the record to store and the credentials shown exactly once."""

    record: ClientRecord
    client_secret: str | None
    registration_access_token: str


def issue_client(
    metadata: dict[str, Any], *, now: int, lifetime: int, random: RandomBytes
) -> IssuedClient:
    """New identifiers and credentials for validated metadata.

    Clients of a ``client_secret_*`` method get a secret; ``none`` (public clients, RFC 7591
    §2) and ``private_key_jwt`` (its keys are the credential, RFC 7523 §2.2) do not. The
    registration expires ``lifetime`` seconds from now, or never when 0 (CLIENT_LIFETIME).
    """
    method = metadata["token_endpoint_auth_method"]
    secret = new_secret(random) if method in SECRET_METHODS else None
    token = new_secret(random)
    record = ClientRecord(
        client_id=new_id(random),
        metadata=metadata,
        client_id_issued_at=now,
        expires_at=now + lifetime if lifetime else 0,
        client_secret_hash=hash_secret(secret) if secret is not None else None,
        registration_token_hash=hash_secret(token),
    )
    return IssuedClient(record, secret, token)


def registration_client_uri(issuer_url: str, client_id: str) -> str:
    # client ids are URL-safe base64, so no percent-encoding is needed.
    return f"{issuer_url}/register/{client_id}"


def client_information(record: ClientRecord, issuer_url: str) -> dict[str, Any]:
    """The client information response without credentials (RFC 7591 §3.2.1, RFC 7592 §3).

    ``client_secret_expires_at`` is REQUIRED whenever a secret exists (0 = never), and
    absent for public clients, which have none.
    """
    info: dict[str, Any] = {
        **record.metadata,
        "client_id": record.client_id,
        "client_id_issued_at": record.client_id_issued_at,
    }
    if record.client_secret_hash is not None:
        info["client_secret_expires_at"] = record.expires_at
    info["registration_client_uri"] = registration_client_uri(issuer_url, record.client_id)
    return info


def issued_response(issued: IssuedClient, issuer_url: str) -> dict[str, Any]:
    body = client_information(issued.record, issuer_url)
    if issued.client_secret is not None:
        body["client_secret"] = issued.client_secret
    body["registration_access_token"] = issued.registration_access_token
    return body


@router.post("/register")
async def register(request: Request) -> Response:
    ctx = context_of(request)
    await rate_limits.limit_per_address(
        ctx, request, "register", ctx.settings.register_rate_per_minute
    )
    await rate_limits.cap_registrations(ctx)
    data = parse_json_object(request.headers.get("content-type"), await request.body())
    metadata = validate_client_metadata(data, ctx.settings)
    now = ctx.now()
    issued = issue_client(
        metadata, now=now, lifetime=ctx.settings.client_lifetime, random=ctx.random
    )
    await save_client(ctx.redis, issued.record, now, durability=ctx.settings.redis)
    metrics.registration()
    logs.event(
        "client_registered",
        client_id=issued.record.client_id,
        client_name=metadata.get("client_name"),
        auth_method=metadata["token_endpoint_auth_method"],
    )
    # RFC 7591 §3.2.1: 201 Created; the body carries credentials, hence no-store.
    return json_response(issued_response(issued, ctx.settings.issuer_url), 201)
