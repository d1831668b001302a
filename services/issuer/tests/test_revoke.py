"""POST /revoke (RFC 7009): own tokens only, always 200, every revoked jti published."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
import redis
from fastapi.testclient import TestClient

from authgate_issuer.settings import IssuerSettings
from authgate_shared import redis_keys
from testsupport.token_clients import Credentials, auth, code_form, issue_code, register_client


def tokens_for(client: TestClient, settings: IssuerSettings, creds: Credentials) -> dict[str, Any]:
    headers, fields = auth(creds)
    code = issue_code(settings, creds.client_id)
    response = client.post("/token", data={**code_form(code), **fields}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    body["jti"] = jwt.decode(body["access_token"], options={"verify_signature": False})["jti"]
    return body


def revoke(client: TestClient, creds: Credentials, token: str, **extra: str) -> Any:
    headers, fields = auth(creds)
    response = client.post("/revoke", data={"token": token, **extra, **fields}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return response


@pytest.fixture
def subscriber(redis_client: redis.Redis) -> Any:
    pubsub = redis_client.pubsub()
    pubsub.subscribe(redis_keys.REVOCATION_CHANNEL)
    assert pubsub.get_message(timeout=5)["type"] == "subscribe"
    yield pubsub
    pubsub.close()


def published(pubsub: Any, count: int) -> set[bytes]:
    messages = set()
    for _ in range(count):
        message = pubsub.get_message(timeout=5)
        assert message is not None, "expected a revocation message"
        assert message["channel"] == redis_keys.REVOCATION_CHANNEL.encode()
        messages.add(message["data"])
    return messages


@pytest.mark.parametrize("hint", [None, "access_token", "refresh_token"])
def test_revoking_an_access_token_deletes_its_record_and_publishes_the_jti(
    client: TestClient,
    settings: IssuerSettings,
    redis_client: redis.Redis,
    subscriber: Any,
    hint: str | None,
) -> None:
    creds = register_client(settings, "app-1")
    tokens = tokens_for(client, settings, creds)
    extra = {"token_type_hint": hint} if hint else {}
    revoke(client, creds, tokens["access_token"], **extra)
    assert not redis_client.exists(redis_keys.token(tokens["jti"]))
    assert published(subscriber, 1) == {tokens["jti"].encode()}
    # The grant survives: only the access token was revoked.
    assert redis_client.exists(redis_keys.grant(tokens["jti"].partition(".")[0]))


def test_revoking_a_refresh_token_revokes_the_grant_and_its_access_tokens(
    client: TestClient, settings: IssuerSettings, redis_client: redis.Redis, subscriber: Any
) -> None:
    creds = register_client(settings, "app-1", method="none")
    first = tokens_for(client, settings, creds)
    headers, fields = auth(creds)
    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], **fields}
    second = client.post("/token", data=form, headers=headers).json()
    second_jti = jwt.decode(second["access_token"], options={"verify_signature": False})["jti"]
    revoke(client, creds, second["refresh_token"], token_type_hint="access_token")
    assert not redis_client.exists(redis_keys.token(first["jti"]))
    assert not redis_client.exists(redis_keys.token(second_jti))
    assert not redis_client.exists(redis_keys.grant(first["jti"].partition(".")[0]))
    assert published(subscriber, 2) == {first["jti"].encode(), second_jti.encode()}
    form["refresh_token"] = second["refresh_token"]
    assert client.post("/token", data=form, headers=headers).json()["error"] == "invalid_grant"


def test_another_clients_token_is_not_revoked(
    client: TestClient, settings: IssuerSettings, redis_client: redis.Redis, subscriber: Any
) -> None:
    owner = register_client(settings, "owner")
    other = register_client(settings, "other", method="client_secret_post")
    tokens = tokens_for(client, settings, owner)
    revoke(client, other, tokens["access_token"])
    revoke(client, other, tokens["refresh_token"])
    assert redis_client.exists(redis_keys.token(tokens["jti"]))
    assert redis_client.exists(redis_keys.grant(tokens["jti"].partition(".")[0]))
    assert subscriber.get_message(timeout=0.5) is None


def test_unknown_and_malformed_tokens_answer_200(
    client: TestClient, settings: IssuerSettings, subscriber: Any
) -> None:
    creds = register_client(settings, "app-1")
    for token in ("garbage", "a.b", "a.b.c", "x" * 300, "{grant}.secret"):
        assert revoke(client, creds, token).json() == {}
    assert subscriber.get_message(timeout=0.5) is None


def test_revoking_twice_is_fine(client: TestClient, settings: IssuerSettings) -> None:
    creds = register_client(settings, "app-1")
    tokens = tokens_for(client, settings, creds)
    revoke(client, creds, tokens["refresh_token"])
    revoke(client, creds, tokens["refresh_token"])
    revoke(client, creds, tokens["access_token"])


def test_revoke_requires_client_authentication_and_a_token(
    client: TestClient, settings: IssuerSettings, redis_client: redis.Redis
) -> None:
    creds = register_client(settings, "app-1")
    tokens = tokens_for(client, settings, creds)
    response = client.post("/revoke", data={"token": tokens["access_token"]})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    wrong = client.post(
        "/revoke", data={"token": tokens["access_token"]}, auth=("app-1", "not-the-secret")
    )
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"].startswith("Basic")
    assert redis_client.exists(redis_keys.token(tokens["jti"]))
    headers, _ = auth(creds)
    missing = client.post("/revoke", data={}, headers=headers)
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"
