"""RFC 7592 test helpers shared by the client-configuration test modules."""

from __future__ import annotations

from typing import Any

import redis
from fastapi.testclient import TestClient

from authgate_shared import redis_keys

GOOD: dict[str, Any] = {
    "redirect_uris": ["http://127.0.0.1/callback"],
    "client_name": "Config test client",
    "grant_types": ["authorization_code", "refresh_token"],
}
CREDENTIALS = ("client_secret", "registration_access_token")
NOW = 1_750_000_000


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def register(client: TestClient, **overrides: Any) -> dict[str, Any]:
    response = client.post("/register", json={**GOOD, **overrides})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def update_body(registered: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """What a client sends on PUT: what it got back, minus credentials, plus changes."""
    body = {k: v for k, v in registered.items() if k not in CREDENTIALS}
    return {**body, **changes}


def stored(redis_client: redis.Redis, client_id: str) -> bytes | None:
    raw = redis_client.get(redis_keys.client(client_id))
    assert raw is None or isinstance(raw, bytes)
    return raw


def shape(response: Any) -> tuple[int, bytes, tuple[tuple[str, str], ...]]:
    """Everything a caller can observe of a response (TestClient or httpx), except the
    per-request id, which differs for every response by design."""
    headers = (item for item in response.headers.items() if item[0].lower() != "x-request-id")
    return response.status_code, response.content, tuple(sorted(headers))
