"""Registered clients and authorization codes for token-endpoint tests, via the real stores.

Codes are created by ``store.codes.issue`` exactly as ``/callback`` does, so a test can exercise
``/token``, ``/revoke`` and ``/introspect`` without a browser.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import redis.asyncio as aioredis

from authgate_issuer.oauth.credentials import hash_secret
from authgate_issuer.settings import IssuerSettings
from authgate_issuer.store import codes
from authgate_issuer.store.clients import ClientRecord, save_client
from authgate_shared.redis.connection import create_redis
from authgate_shared.runtime import system_random

# Uses every character class RFC 7636 §4.1 allows, including "." "~" "-" "_".
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk.~_-"
REDIRECT_URI = "http://127.0.0.1:8765/callback"
# The service /authorize stores for resource=https://mcp.example.com/server (its origin).
RESOURCE = "https://mcp.example.com"
OMIT = "<omit>"

T = TypeVar("T")


def challenge(verifier: str = VERIFIER) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def with_redis(settings: IssuerSettings, action: Callable[[aioredis.Redis], Awaitable[T]]) -> T:
    async def go() -> T:
        redis = create_redis(settings.redis)
        try:
            return await action(redis)
        finally:
            await redis.aclose()

    return asyncio.run(go())


@dataclass(frozen=True)
class Credentials:
    client_id: str
    secret: str | None
    method: str


def register_client(
    settings: IssuerSettings,
    client_id: str,
    *,
    method: str = "client_secret_basic",
    secret: str = "s3cret",  # noqa: S107 - a test fixture
    grant_types: tuple[str, ...] = ("authorization_code", "refresh_token"),
    expires_at: int = 0,
) -> Credentials:
    """Store a client record; its registration access token is ``rat-<client_id>``."""
    client_secret = None if method == "none" else secret
    metadata = {
        "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": method,
        "grant_types": list(grant_types),
        "client_name": client_id,
    }
    record = ClientRecord(
        client_id=client_id,
        metadata=metadata,
        client_id_issued_at=int(time.time()),
        expires_at=expires_at,
        client_secret_hash=hash_secret(client_secret) if client_secret else None,
        registration_token_hash=hash_secret("rat-" + client_id),
    )
    with_redis(settings, lambda redis: save_client(redis, record, time.time()))
    return Credentials(client_id, client_secret, method)


def issue_code(
    settings: IssuerSettings,
    client_id: str,
    *,
    username: str = "octocat",
    verifier: str = VERIFIER,
    redirect_uri: str = REDIRECT_URI,
    redirect_uri_in_request: bool = True,
    scope: str = "mcp:*",
    resources: tuple[str, ...] = (RESOURCE,),
) -> str:
    record = codes.AuthorizationCode(
        client_id=client_id,
        redirect_uri=redirect_uri,
        redirect_uri_in_request=redirect_uri_in_request,
        code_challenge=challenge(verifier),
        scope=scope,
        resources=list(resources),
        username=username,
        github_id="583231",
        issued_at=int(time.time()),
    )
    return with_redis(
        settings, lambda redis: codes.issue(redis, record, system_random, settings.code_lifetime)
    )


def auth(creds: Credentials) -> tuple[dict[str, str], dict[str, str]]:
    """(headers, form fields) authenticating ``creds`` with its registered method."""
    if creds.method == "client_secret_basic":
        assert creds.secret is not None
        raw = f"{creds.client_id}:{creds.secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}, {}
    if creds.method == "client_secret_post":
        assert creds.secret is not None
        return {}, {"client_id": creds.client_id, "client_secret": creds.secret}
    return {}, {"client_id": creds.client_id}


def code_form(code: str, **extra: str) -> dict[str, str]:
    """A valid authorization_code request body; a value of OMIT drops that field."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": VERIFIER,
    }
    form.update(extra)
    return {k: v for k, v in form.items() if v != OMIT}
