"""POST /register (RFC 7591) against real Redis: in-process and over real HTTP."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest
import redis
from fastapi.testclient import TestClient

from authgate_issuer.app import create_app
from authgate_issuer.oauth.credentials import new_id, new_secret
from authgate_issuer.settings import IssuerSettings
from authgate_shared import redis_keys
from testsupport.service import ServiceProcess

GOOD: dict[str, Any] = {
    "redirect_uris": ["http://127.0.0.1:33418/callback", "https://app.example.com/cb"],
    "client_name": "Test MCP client",
    "grant_types": ["authorization_code", "refresh_token"],
}
NOW = 1_750_000_000


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def client_keys(redis_client: redis.Redis) -> list[bytes]:
    """Everything registration could have written (the JWK Set key is not ours)."""
    return sorted(
        k if isinstance(k, bytes) else k.encode() for k in redis_client.keys("oauth:client*")
    )


def counting_random() -> Callable[[int], bytes]:
    """Deterministic, never-repeating bytes: the n-th call returns n-filled bytes."""
    calls = [0]

    def random(nbytes: int) -> bytes:
        calls[0] += 1
        return bytes([calls[0]]) * nbytes

    return random


@pytest.fixture
def frozen(settings: IssuerSettings) -> Iterator[TestClient]:
    """The app with its clock pinned to NOW and predictable randomness."""
    app = create_app(settings, clock=lambda: float(NOW), random=counting_random())
    with TestClient(app, base_url="https://auth.example.com") as test_client:
        yield test_client


def test_confidential_client_registration(
    frozen: TestClient, redis_client: redis.Redis, settings: IssuerSettings
) -> None:
    response = frozen.post("/register", json={**GOOD, "unknown_member": "dropped"})

    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    # ctx.random feeds client_id, then the secret, then the token (one call each).
    replay = counting_random()
    secret, token, client_id = new_secret(replay), new_secret(replay), new_id(replay)
    assert body == {
        "redirect_uris": GOOD["redirect_uris"],
        "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "application_type": "web",
        "scope": "mcp:*",
        "client_name": "Test MCP client",
        "client_id": client_id,
        "client_id_issued_at": NOW,
        "client_secret": secret,
        "client_secret_expires_at": NOW + settings.client_lifetime,
        "registration_access_token": token,
        "registration_client_uri": f"https://auth.example.com/register/{client_id}",
    }

    key = redis_keys.client(client_id)
    assert client_keys(redis_client) == sorted([key.encode(), redis_keys.CLIENT_EXPIRY.encode()])
    raw = redis_client.get(key)
    assert raw is not None
    assert secret.encode() not in raw and token.encode() not in raw
    stored = orjson.loads(raw)
    assert stored["client_secret_hash"] == sha256(secret)
    assert stored["registration_token_hash"] == sha256(token)
    assert stored["expires_at"] == NOW + 7776000
    # Filed in the expiry schedule, so purge-expired finds it without scanning.
    assert redis_client.zrange(redis_keys.CLIENT_EXPIRY, 0, -1, withscores=True) == [
        (client_id.encode(), NOW + 7776000)
    ]
    assert "unknown_member" not in stored["metadata"]
    assert 7776000 - 5 <= redis_client.ttl(key) <= 7776000


def test_public_client_gets_no_secret(client: TestClient, redis_client: redis.Redis) -> None:
    response = client.post("/register", json={**GOOD, "token_endpoint_auth_method": "none"})

    assert response.status_code == 201
    body = response.json()
    assert "client_secret" not in body
    assert "client_secret_expires_at" not in body
    assert body["token_endpoint_auth_method"] == "none"
    stored = orjson.loads(redis_client.get(redis_keys.client(body["client_id"])) or b"")
    assert stored["client_secret_hash"] is None


def test_each_registration_gets_fresh_identifiers(client: TestClient) -> None:
    first = client.post("/register", json=GOOD).json()
    second = client.post("/register", json=GOOD).json()
    for name in ("client_id", "client_secret", "registration_access_token"):
        assert first[name] != second[name]
        assert len(first[name]) >= 22  # at least 128 bits, URL-safe base64


def test_client_lifetime_zero_means_no_expiry(
    env: dict[str, str], redis_client: redis.Redis
) -> None:
    settings = IssuerSettings.from_env({**env, "CLIENT_LIFETIME": "0"})
    with TestClient(create_app(settings), base_url="https://auth.example.com") as test_client:
        body = test_client.post("/register", json=GOOD).json()

    assert body["client_secret_expires_at"] == 0
    assert redis_client.ttl(redis_keys.client(body["client_id"])) == -1
    assert not redis_client.exists(redis_keys.CLIENT_EXPIRY)  # nothing will ever expire


BIG_NAME = "x" * 70_000
# (content type, raw body, expected status, expected error code)
BAD_REQUESTS: list[tuple[str | None, bytes, int, str]] = [
    (None, orjson.dumps(GOOD), 400, "invalid_client_metadata"),
    ("application/x-www-form-urlencoded", b"redirect_uris=https://a.example/cb", 400,
     "invalid_client_metadata"),
    ("text/plain", orjson.dumps(GOOD), 400, "invalid_client_metadata"),
    ("application/json", b'{"redirect_uris": ["https://a.example/cb"]', 400,
     "invalid_client_metadata"),
    ("application/json", b"", 400, "invalid_client_metadata"),
    ("application/json", b"[1, 2]", 400, "invalid_client_metadata"),
    ("application/json", b"\xff\xfe", 400, "invalid_client_metadata"),
    ("application/json", orjson.dumps({**GOOD, "client_name": BIG_NAME}), 413, "invalid_request"),
    ("application/json", b" " * 65_537, 413, "invalid_request"),
]  # fmt: skip
BAD_METADATA: list[tuple[dict[str, Any], str]] = [
    ({"redirect_uris": ["https://good.example@evil.example/cb"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["http://localhost.evil.example/cb"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["javascript:alert(1)"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["data:text/html,hi"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["file:///etc/passwd"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["https://app.example.com/cb#frag"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["http://app.example.com/cb"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["myapp:/callback"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["https://app.example.com\\@evil.example/"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["https://app.example.com:99999/cb"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["/relative"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["https://app.example.com/ok", "http://evil.example/"]},
     "invalid_redirect_uri"),
    ({"redirect_uris": "https://app.example.com/cb"}, "invalid_redirect_uri"),
    ({"redirect_uris": []}, "invalid_redirect_uri"),
    ({"client_name": "no redirect_uris"}, "invalid_redirect_uri"),
    ({**GOOD, "grant_types": ["password"]}, "invalid_client_metadata"),
    ({**GOOD, "grant_types": ["refresh_token"]}, "invalid_client_metadata"),
    ({**GOOD, "response_types": ["token"]}, "invalid_client_metadata"),
    ({**GOOD, "token_endpoint_auth_method": "client_secret_jwt"}, "invalid_client_metadata"),
    ({**GOOD, "application_type": "service"}, "invalid_client_metadata"),
    ({**GOOD, "scope": "admin"}, "invalid_client_metadata"),
    ({**GOOD, "client_name": ["list"]}, "invalid_client_metadata"),
    ({**GOOD, "contacts": "a@example.com"}, "invalid_client_metadata"),
    ({**GOOD, "logo_uri": "javascript:alert(1)"}, "invalid_client_metadata"),
    ({**GOOD, "client_uri": "http://evil.example/"}, "invalid_client_metadata"),
    ({**GOOD, "software_version": 3}, "invalid_client_metadata"),
]  # fmt: skip


@pytest.mark.parametrize(("content_type", "raw", "status", "error"), BAD_REQUESTS)
def test_bad_request_is_refused_and_nothing_is_stored(
    client: TestClient,
    redis_client: redis.Redis,
    content_type: str | None,
    raw: bytes,
    status: int,
    error: str,
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/register", content=raw, headers=headers)

    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json()["error_description"]
    assert response.headers["cache-control"] == "no-store"
    assert client_keys(redis_client) == []


@pytest.mark.parametrize(("metadata", "error"), BAD_METADATA)
def test_bad_metadata_is_refused_and_nothing_is_stored(
    client: TestClient, redis_client: redis.Redis, metadata: dict[str, Any], error: str
) -> None:
    response = client.post("/register", json=metadata)

    assert response.status_code == 400
    assert response.json()["error"] == error
    assert response.json()["error_description"]
    assert client_keys(redis_client) == []


def test_bad_input_table_is_large_enough() -> None:
    assert len(BAD_REQUESTS) + len(BAD_METADATA) >= 30


def test_register_accepts_only_post(client: TestClient) -> None:
    assert client.get("/register").status_code == 405


def test_registration_over_real_http(
    issuer_process: ServiceProcess, redis_client: redis.Redis
) -> None:
    base = issuer_process.url
    with httpx.Client(base_url=base, timeout=10) as http:
        created = http.post("/register", json=GOOD)
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["registration_client_uri"] == f"{base}/register/{body['client_id']}"
        assert created.headers["cache-control"] == "no-store"

        # A body over MAX_BODY_BYTES sent chunked (no Content-Length) is cut off while streaming.
        def chunks() -> Iterator[bytes]:
            yield b'{"redirect_uris": ["https://app.example.com/cb"], "client_name": "'
            for _ in range(20):
                yield b"x" * 8192
            yield b'"}'

        too_big = http.post(
            "/register", content=chunks(), headers={"content-type": "application/json"}
        )
        assert too_big.status_code == 413
        assert too_big.json()["error"] == "invalid_request"

        refused = http.post("/register", json={"redirect_uris": ["http://evil.example/cb"]})
        assert refused.status_code == 400
        assert refused.json()["error"] == "invalid_redirect_uri"

    written = [redis_keys.client(body["client_id"]), redis_keys.CLIENT_EXPIRY]
    assert client_keys(redis_client) == sorted(key.encode() for key in written)
    assert redis_client.zcard(redis_keys.CLIENT_EXPIRY) == 1
