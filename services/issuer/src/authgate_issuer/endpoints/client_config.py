"""``/register/{client_id}``: the client configuration endpoint (RFC 7592).

Authenticated by the registration access token (``Authorization: Bearer``, RFC 6750 §2.1). A
missing or wrong token and an unknown or expired client all get the same 401 ``invalid_token``
(RFC 7592 §2.1-2.3 want 401, never 404, for unknown clients), after the same work: one Redis
read and one constant-time compare, against a dummy hash when there is no client, so neither the
answer nor its timing says which client ids exist. A token presented for an unknown client needs
no revoking (RFC 7592 §2.1): tokens live only inside their client's record.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from authgate_shared import errors
from authgate_shared.runtime import RandomBytes

from ..context import IssuerContext, get_context
from ..oauth import credentials
from ..oauth.client_metadata import (
    SECRET_METHODS,
    parse_json_object,
    validate_client_metadata,
)
from ..oauth.errors import InvalidClientMetadata, InvalidToken
from ..settings import IssuerSettings
from ..store import grants
from ..store.clients import ClientRecord, delete_client, load_client, replace_client
from ..web import logs
from ..web.responses import NO_STORE, json_response
from .register import client_information

router = APIRouter()

_DUMMY_HASH = credentials.hash_secret("no client has this registration access token")


def _invalid_token() -> InvalidToken:
    return InvalidToken(
        "the registration access token is missing or invalid, or the client does not exist",
        headers={"WWW-Authenticate": f'Bearer error="{errors.INVALID_TOKEN}"'},
    )


def bearer_token(authorization: str | None) -> str:
    """The token of ``Authorization: Bearer <token>`` (scheme case-insensitive), else ''."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip(" ")
    if scheme.lower() != "bearer" or " " in token:
        return ""
    return token


async def _authenticate(request: Request, client_id: str, ctx: IssuerContext) -> ClientRecord:
    token = bearer_token(request.headers.get("authorization"))
    record = await load_client(ctx.redis, client_id, ctx.now())
    stored = record.registration_token_hash if record is not None else _DUMMY_HASH
    valid = credentials.verify_secret(token, stored)  # always run: same timing for every case
    if record is None or not token or not valid:
        raise _invalid_token()
    return record


def updated_record(
    record: ClientRecord, data: dict[str, Any], settings: IssuerSettings, random: RandomBytes
) -> tuple[ClientRecord, str | None]:
    """The record after an RFC 7592 §2.2 full replacement, and a new secret if one was issued.

    The body must carry this client's ``client_id``; a ``client_secret`` in it must be the
    current one (a client may not choose its secret). Both are 400 ``invalid_client_metadata``:
    the caller is already authenticated, so a 401 would wrongly blame the access token. A client
    keeps its secret across updates unless it moves to a method without one (``none``,
    ``private_key_jwt``); a client that moves to a ``client_secret_*`` method gets a new one. Identity, issue time and expiry never change.
    """
    if data.get("client_id") != record.client_id:
        raise InvalidClientMetadata("the body's client_id must be this client's id (RFC 7592 §2.2)")
    sent = data.get("client_secret")
    if sent is not None:
        stored = record.client_secret_hash or _DUMMY_HASH
        matches = isinstance(sent, str) and credentials.verify_secret(sent, stored)
        if not matches or record.client_secret_hash is None:
            raise InvalidClientMetadata(
                "client_secret does not match the current secret; omit it to keep the secret"
            )
    metadata = validate_client_metadata(data, settings)
    secret_hash, secret = record.client_secret_hash, None
    if metadata["token_endpoint_auth_method"] not in SECRET_METHODS:
        secret_hash = None
    elif secret_hash is None:
        secret = credentials.new_secret(random)
        secret_hash = credentials.hash_secret(secret)
    return dataclasses.replace(record, metadata=metadata, client_secret_hash=secret_hash), secret


@router.get("/register/{client_id}")
async def read_client(
    client_id: str, request: Request, ctx: IssuerContext = Depends(get_context)
) -> Response:
    record = await _authenticate(request, client_id, ctx)
    # RFC 7592 §2.1/§3: the current metadata and the registration access token, which is the
    # one just presented (only its hash is stored); never the client secret, for the same reason.
    body = client_information(record, ctx.settings.issuer_url)
    body["registration_access_token"] = bearer_token(request.headers.get("authorization"))
    return json_response(body)


@router.put("/register/{client_id}")
async def update_client(
    client_id: str, request: Request, ctx: IssuerContext = Depends(get_context)
) -> Response:
    record = await _authenticate(request, client_id, ctx)
    data = parse_json_object(request.headers.get("content-type"), await request.body())
    updated, secret = updated_record(record, data, ctx.settings, ctx.random)
    # RFC 7592 §3: the server may rotate the registration access token; we always do, so a
    # leaked token is only good until the client's next update.
    token = credentials.new_secret(ctx.random)
    updated = dataclasses.replace(updated, registration_token_hash=credentials.hash_secret(token))
    stored = await replace_client(
        ctx.redis, updated, expected_token_hash=record.registration_token_hash
    )
    if not stored:  # a concurrent update rotated the token, or a DELETE won the race
        raise _invalid_token()
    logs.event("client_updated", client_id=client_id)
    body = client_information(updated, ctx.settings.issuer_url)
    if secret is not None:
        body["client_secret"] = secret
    body["registration_access_token"] = token
    return json_response(body)


@router.delete("/register/{client_id}")
async def remove_client(
    client_id: str, request: Request, ctx: IssuerContext = Depends(get_context)
) -> Response:
    await _authenticate(request, client_id, ctx)
    # Grants first, while the record (and so the right to retry this DELETE) still exists; once
    # more after the record is gone, for grants that a token request in flight was creating.
    revoked = await grants.revoke_client(ctx.redis, client_id)
    await delete_client(ctx.redis, client_id)
    revoked += await grants.revoke_client(ctx.redis, client_id)
    logs.event("client_deleted", client_id=client_id, grants_revoked=revoked)
    return Response(status_code=204, headers=NO_STORE)
