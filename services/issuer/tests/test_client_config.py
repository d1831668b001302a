"""/register/{client_id} (RFC 7592): read, one indistinguishable 401, expiry."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import redis
from fastapi.testclient import TestClient

from authgate_issuer.app import create_app
from authgate_issuer.settings import IssuerSettings
from authgate_shared import redis_keys
from testsupport.client_config import (
    CREDENTIALS,
    NOW,
    bearer,
    register,
    shape,
    stored,
    update_body,
)


def test_get_returns_the_registration_without_the_secret(client: TestClient) -> None:
    registered = register(client)

    response = client.get(
        f"/register/{registered['client_id']}", headers=bearer(registered[CREDENTIALS[1]])
    )

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    # RFC 7592 §3: the client information response carries the registration access token
    # (the one presented; only its hash is stored), never the client secret.
    assert response.json() == {k: v for k, v in registered.items() if k != "client_secret"}


def test_get_for_a_public_client_has_no_secret_expiry(client: TestClient) -> None:
    registered = register(client, token_endpoint_auth_method="none")
    response = client.get(
        f"/register/{registered['client_id']}",
        headers={"authorization": f"bearer {registered['registration_access_token']}"},
    )
    assert response.status_code == 200
    assert "client_secret_expires_at" not in response.json()
    assert "client_secret" not in response.json()


def test_every_authentication_failure_looks_the_same(
    client: TestClient, redis_client: redis.Redis
) -> None:
    one, other = register(client), register(client)
    gone = register(client)
    client.delete(f"/register/{gone['client_id']}", headers=bearer(gone[CREDENTIALS[1]]))
    cid, token = one["client_id"], one["registration_access_token"]
    attempts = [
        (cid, {}),
        (cid, bearer("wrong-token")),
        (cid, bearer("")),
        (cid, {"authorization": token}),
        (cid, {"authorization": f"Basic {token}"}),
        (cid, {"authorization": f"Bearer {token} extra"}),
        (cid, bearer(other["registration_access_token"])),
        ("unknown-client-id", bearer(token)),
        ("unknown-client-id", {}),
        ("bad{id}", bearer(token)),
        (gone["client_id"], bearer(gone["registration_access_token"])),
    ]
    before = {key: redis_client.dump(key) for key in redis_client.keys("oauth:client*")}
    for method in ("GET", "PUT", "DELETE"):
        responses = [
            client.request(method, f"/register/{c}", headers=h, json=update_body(one))
            for c, h in attempts
        ]
        assert {shape(r) for r in responses} == {shape(responses[0])}, method
        first = responses[0]
        assert first.status_code == 401
        assert first.json()["error"] == "invalid_token"
        assert first.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert first.headers["cache-control"] == "no-store"
    assert {key: redis_client.dump(key) for key in redis_client.keys("oauth:client*")} == before


@pytest.fixture
def compares(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every hmac.compare_digest call made while handling requests (the real one still runs)."""
    calls: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def recording(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording)
    return calls


def test_tokens_are_compared_in_constant_time_even_for_unknown_clients(
    client: TestClient, redis_client: redis.Redis, compares: list[tuple[str, str]]
) -> None:
    registered = register(client)
    cid = registered["client_id"]
    stored_hash = orjson.loads(stored(redis_client, cid) or b"")["registration_token_hash"]
    compares.clear()

    assert client.get(f"/register/{cid}", headers=bearer("wrong")).status_code == 401
    assert compares == [(hashlib.sha256(b"wrong").hexdigest(), stored_hash)]

    compares.clear()
    assert client.get("/register/no-such-client", headers=bearer("wrong")).status_code == 401
    assert len(compares) == 1
    presented, against = compares[0]
    assert presented == hashlib.sha256(b"wrong").hexdigest()
    assert len(against) == 64 and against != stored_hash  # a dummy hash, same work

    compares.clear()
    assert client.get(f"/register/{cid}").status_code == 401
    assert len(compares) == 1


class Clock:
    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def short_lived(env: dict[str, str], clock: Clock) -> Iterator[TestClient]:
    settings = IssuerSettings.from_env({**env, "CLIENT_LIFETIME": "3600"})
    with TestClient(create_app(settings, clock=clock), base_url="https://auth.example.com") as tc:
        yield tc


def test_expired_clients_are_unknown(
    short_lived: TestClient, clock: Clock, redis_client: redis.Redis
) -> None:
    registered = register(short_lived)
    cid, token = registered["client_id"], registered["registration_access_token"]
    assert registered["client_secret_expires_at"] == NOW + 3600
    assert 3590 <= redis_client.ttl(redis_keys.client(cid)) <= 3600

    clock.now = NOW + 3599
    assert short_lived.get(f"/register/{cid}", headers=bearer(token)).status_code == 200
    clock.now = NOW + 3600
    expired = short_lived.get(f"/register/{cid}", headers=bearer(token))
    unknown = short_lived.get("/register/unknown", headers=bearer(token))
    assert expired.status_code == 401
    assert shape(expired) == shape(unknown)


def test_redis_ttl_removes_expired_clients(env: dict[str, str]) -> None:
    settings = IssuerSettings.from_env({**env, "CLIENT_LIFETIME": "1"})
    with TestClient(create_app(settings), base_url="https://auth.example.com") as tc:
        registered = register(tc)
        time.sleep(1.2)
        response = tc.get(
            f"/register/{registered['client_id']}",
            headers=bearer(registered["registration_access_token"]),
        )
    assert response.status_code == 401
