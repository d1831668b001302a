"""/register/{client_id} (RFC 7592): read, update, delete; one indistinguishable 401."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
import redis
import redis.asyncio as aioredis
from fastapi.testclient import TestClient

from authgate_issuer.app import create_app
from authgate_issuer.settings import IssuerSettings
from authgate_issuer.store import grants
from authgate_issuer.store.clients import ClientRecord, replace_client
from authgate_shared import redis_keys
from testsupport.service import ServiceProcess

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


def test_put_replaces_metadata_and_rotates_the_token(
    client: TestClient, redis_client: redis.Redis
) -> None:
    registered = register(client)
    cid, old_token = registered["client_id"], registered["registration_access_token"]
    before = orjson.loads(stored(redis_client, cid) or b"")
    redis_client.expire(redis_keys.client(cid), 500)
    body = update_body(registered, redirect_uris=["https://app.example.com/cb"])
    del body["client_name"]  # omitted members are removed (RFC 7592 §2.2)

    response = client.put(f"/register/{cid}", headers=bearer(old_token), json=body)

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    updated = response.json()
    new_token = updated.pop("registration_access_token")
    assert new_token != old_token
    assert "client_secret" not in updated  # unchanged auth method keeps its secret
    expected = {k: v for k, v in body.items() if k != "client_name"}
    assert updated == expected
    after = orjson.loads(stored(redis_client, cid) or b"")
    assert after["client_secret_hash"] == before["client_secret_hash"]
    assert after["expires_at"] == before["expires_at"]
    assert 0 < redis_client.ttl(redis_keys.client(cid)) <= 500  # expiry not extended

    assert client.get(f"/register/{cid}", headers=bearer(old_token)).status_code == 401
    again = client.put(f"/register/{cid}", headers=bearer(old_token), json=body)
    assert again.status_code == 401
    current = client.get(f"/register/{cid}", headers=bearer(new_token))
    assert current.json() == {**updated, "registration_access_token": new_token}


def test_put_with_the_current_secret_is_accepted(client: TestClient) -> None:
    registered = register(client)
    body = update_body(registered, client_secret=registered["client_secret"])
    response = client.put(
        f"/register/{registered['client_id']}",
        headers=bearer(registered["registration_access_token"]),
        json=body,
    )
    assert response.status_code == 200
    assert "client_secret" not in response.json()


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"client_id": None}, "invalid_client_metadata"),
        ({"client_id": "another-client"}, "invalid_client_metadata"),
        ({"client_secret": "not-the-secret"}, "invalid_client_metadata"),
        ({"client_secret": 12345}, "invalid_client_metadata"),
        ({"redirect_uris": ["https://good.example@evil.example/"]}, "invalid_redirect_uri"),
        ({"grant_types": ["client_credentials"]}, "invalid_client_metadata"),
        ({"scope": "admin"}, "invalid_client_metadata"),
    ],
)
def test_bad_updates_change_nothing(
    client: TestClient, redis_client: redis.Redis, change: dict[str, Any], error: str
) -> None:
    registered = register(client)
    cid, token = registered["client_id"], registered["registration_access_token"]
    before = stored(redis_client, cid)
    body = {k: v for k, v in update_body(registered, **change).items() if v is not None}

    response = client.put(f"/register/{cid}", headers=bearer(token), json=body)

    assert response.status_code == 400
    assert response.json()["error"] == error
    assert stored(redis_client, cid) == before
    assert client.get(f"/register/{cid}", headers=bearer(token)).status_code == 200


def test_put_secret_of_a_public_client_is_refused(client: TestClient) -> None:
    registered = register(client, token_endpoint_auth_method="none")
    body = update_body(registered, client_secret="anything")
    response = client.put(
        f"/register/{registered['client_id']}",
        headers=bearer(registered["registration_access_token"]),
        json=body,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"


def test_put_malformed_json_is_refused(client: TestClient) -> None:
    registered = register(client)
    response = client.put(
        f"/register/{registered['client_id']}",
        headers={
            **bearer(registered["registration_access_token"]),
            "content-type": "application/json",
        },
        content=b"{not json",
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"


def test_switching_between_public_and_confidential(
    client: TestClient, redis_client: redis.Redis
) -> None:
    registered = register(client)
    cid = registered["client_id"]
    public = client.put(
        f"/register/{cid}",
        headers=bearer(registered["registration_access_token"]),
        json=update_body(registered, token_endpoint_auth_method="none"),
    ).json()
    assert "client_secret_expires_at" not in public
    assert orjson.loads(stored(redis_client, cid) or b"")["client_secret_hash"] is None

    confidential = client.put(
        f"/register/{cid}",
        headers=bearer(public["registration_access_token"]),
        json=update_body(public, token_endpoint_auth_method="client_secret_post"),
    ).json()
    secret = confidential["client_secret"]
    assert secret != registered["client_secret"]
    assert confidential["client_secret_expires_at"] == registered["client_secret_expires_at"]
    record = orjson.loads(stored(redis_client, cid) or b"")
    assert record["client_secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()


def test_concurrent_updates_with_one_token_cannot_both_win(
    client: TestClient, redis_url: str, redis_client: redis.Redis
) -> None:
    registered = register(client)
    cid = registered["client_id"]
    record = ClientRecord.from_json(stored(redis_client, cid) or b"")
    first = dataclasses.replace(record, registration_token_hash="1" * 64)
    second = dataclasses.replace(record, registration_token_hash="2" * 64)

    async def race() -> list[bool]:
        async with aioredis.Redis.from_url(redis_url) as r:
            old = record.registration_token_hash
            return [
                await replace_client(r, first, expected_token_hash=old),
                await replace_client(r, second, expected_token_hash=old),
            ]

    assert asyncio.run(race()) == [True, False]
    assert ClientRecord.from_json(stored(redis_client, cid) or b"") == first


def _grant(client_id: str, grant_id: str, now: int) -> grants.Grant:
    return grants.Grant(
        grant_id=grant_id,
        client_id=client_id,
        username="octocat",
        github_id="1",
        scope="mcp:*",
        resources=[],
        created_at=now,
        expiry=now + 3600,
        refresh_issued_at=now,
    )


def test_delete_removes_the_client_and_everything_issued_to_it(
    client: TestClient, redis_url: str, redis_client: redis.Redis
) -> None:
    doomed, bystander = register(client), register(client)
    now = int(time.time())

    async def issue() -> None:
        async with aioredis.Redis.from_url(redis_url) as r:
            for cid, gid in ((doomed["client_id"], "g1"), (bystander["client_id"], "g2")):
                await grants.create_grant(r, _grant(cid, gid, now), now=now, ttl=3600)
                assert await grants.mint_token(
                    r, jti=f"{gid}.1", record={}, username="octocat", exp=now + 600, now=now
                )

    asyncio.run(issue())
    assert redis_client.exists(redis_keys.token("g1.1"), redis_keys.grant("g1")) == 2

    cid, token = doomed["client_id"], doomed["registration_access_token"]
    response = client.delete(f"/register/{cid}", headers=bearer(token))

    assert response.status_code == 204
    assert response.content == b""
    assert stored(redis_client, cid) is None
    assert (
        redis_client.exists(
            redis_keys.grant("g1"), redis_keys.token("g1.1"), redis_keys.client_grants(cid)
        )
        == 0
    )
    # Another client's grants are untouched: the deletion follows this client's index only.
    assert redis_client.exists(redis_keys.grant("g2"), redis_keys.token("g2.1")) == 2
    assert client.get(f"/register/{cid}", headers=bearer(token)).status_code == 401
    assert client.delete(f"/register/{cid}", headers=bearer(token)).status_code == 401


def test_management_over_real_http(issuer_process: ServiceProcess) -> None:
    with httpx.Client(base_url=issuer_process.url, timeout=10) as http:
        registered = http.post("/register", json=GOOD).json()
        uri = registered["registration_client_uri"]
        token = registered["registration_access_token"]
        assert uri.startswith(issuer_process.url + "/register/")

        read = http.get(uri, headers=bearer(token))
        assert read.status_code == 200
        assert read.json() == {k: v for k, v in registered.items() if k != "client_secret"}

        updated = http.put(
            uri, headers=bearer(token), json=update_body(registered, client_name="New")
        )
        assert updated.status_code == 200
        new_token = updated.json()["registration_access_token"]
        assert http.get(uri, headers=bearer(new_token)).json()["client_name"] == "New"

        stale = http.get(uri, headers=bearer(token))
        unknown = http.get(issuer_process.url + "/register/nope", headers=bearer(token))
        assert stale.status_code == unknown.status_code == 401
        assert stale.content == unknown.content
        assert stale.headers["www-authenticate"] == unknown.headers["www-authenticate"]

        assert http.delete(uri, headers=bearer(new_token)).status_code == 204
        gone = http.get(uri, headers=bearer(new_token))
        assert gone.status_code == 401
        assert gone.content == unknown.content
