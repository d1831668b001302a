"""/register/{client_id} (RFC 7592) PUT and DELETE: full replacement, token rotation, removal."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import time
from typing import Any

import httpx
import orjson
import pytest
import redis
import redis.asyncio as aioredis
from fastapi.testclient import TestClient

from authgate_issuer.store import grants
from authgate_issuer.store.clients import ClientRecord, replace_client
from authgate_shared import redis_keys
from testsupport.client_config import (
    GOOD,
    bearer,
    register,
    stored,
    update_body,
)
from testsupport.service import ServiceProcess


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
    assert redis_client.zscore(redis_keys.CLIENT_EXPIRY, cid) == before["expires_at"]
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
    assert redis_client.zscore(redis_keys.CLIENT_EXPIRY, cid) is not None
    response = client.delete(f"/register/{cid}", headers=bearer(token))

    assert response.status_code == 204
    assert response.content == b""
    assert stored(redis_client, cid) is None
    # Nothing left for purge-expired: the expiry-schedule entry goes with the record.
    assert redis_client.zscore(redis_keys.CLIENT_EXPIRY, cid) is None
    assert redis_client.zscore(redis_keys.CLIENT_EXPIRY, bystander["client_id"]) is not None
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
