"""REFRESH_REUSE_GRACE_SECONDS: the immediately preceding refresh token, presented again within
the window, gets the same successor pair; anything else is still reuse (RFC 9700 §4.14.2)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from fastapi.testclient import TestClient

from authgate_issuer.app import create_app
from authgate_issuer.oauth import refresh_grace
from authgate_issuer.settings import IssuerSettings
from authgate_shared import redis_keys
from testsupport.issuer import start_issuer
from testsupport.token_clients import Credentials, auth, issue_code, register_client
from testsupport.token_requests import assert_error, live, redeem, refresh

GRACE = 30


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def grace_env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "REFRESH_REUSE_GRACE_SECONDS": str(GRACE)}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def grace_client(grace_env: dict[str, str], clock: Clock) -> Iterator[TestClient]:
    settings = IssuerSettings.from_env(grace_env)
    app = create_app(settings, clock=clock)
    with TestClient(app, base_url="https://auth.example.com") as test_client:
        yield test_client


def _pair(body: dict[str, Any]) -> tuple[str, str]:
    return body["access_token"], body["refresh_token"]


def test_the_preceding_token_gets_the_same_pair_within_the_window(
    grace_client: TestClient, settings: IssuerSettings, clock: Clock, redis_client: redis.Redis
) -> None:
    creds = register_client(settings, "grace-app")
    first = redeem(grace_client, creds, issue_code(settings, creds.client_id)).json()
    second = refresh(grace_client, creds, first["refresh_token"]).json()
    clock.now += GRACE - 1
    again = refresh(grace_client, creds, first["refresh_token"])
    assert again.status_code == 200, again.text
    assert _pair(again.json()) == _pair(second)
    assert again.json()["expires_in"] == second["expires_in"] - (GRACE - 1)
    assert live(redis_client, second)
    # The successor still rotates normally afterwards.
    third = refresh(grace_client, creds, second["refresh_token"])
    assert third.status_code == 200
    assert _pair(third.json()) != _pair(second)


def test_after_the_window_the_preceding_token_is_reuse(
    grace_client: TestClient, settings: IssuerSettings, clock: Clock, redis_client: redis.Redis
) -> None:
    creds = register_client(settings, "grace-late")
    first = redeem(grace_client, creds, issue_code(settings, creds.client_id)).json()
    second = refresh(grace_client, creds, first["refresh_token"]).json()
    clock.now += GRACE + 1
    assert_error(refresh(grace_client, creds, first["refresh_token"]), "invalid_grant")
    assert not live(redis_client, second)
    assert_error(refresh(grace_client, creds, second["refresh_token"]), "invalid_grant")


def test_only_the_immediately_preceding_token_qualifies(
    grace_client: TestClient, settings: IssuerSettings, redis_client: redis.Redis
) -> None:
    creds = register_client(settings, "grace-older")
    first = redeem(grace_client, creds, issue_code(settings, creds.client_id)).json()
    second = refresh(grace_client, creds, first["refresh_token"]).json()
    third = refresh(grace_client, creds, second["refresh_token"]).json()
    # ``first`` is two rotations old: reuse, the family is revoked, grace or not.
    assert_error(refresh(grace_client, creds, first["refresh_token"]), "invalid_grant")
    assert not live(redis_client, third)
    assert_error(refresh(grace_client, creds, third["refresh_token"]), "invalid_grant")


def test_another_client_gets_nothing_from_the_window(
    grace_client: TestClient, settings: IssuerSettings, redis_client: redis.Redis
) -> None:
    creds = register_client(settings, "grace-owner")
    other = register_client(settings, "grace-thief")
    first = redeem(grace_client, creds, issue_code(settings, creds.client_id)).json()
    second = refresh(grace_client, creds, first["refresh_token"]).json()
    assert_error(refresh(grace_client, other, first["refresh_token"]), "invalid_grant")
    assert live(redis_client, second)


def test_the_successor_is_sealed_at_rest(
    grace_client: TestClient, settings: IssuerSettings, redis_client: redis.Redis
) -> None:
    creds = register_client(settings, "grace-sealed")
    first = redeem(grace_client, creds, issue_code(settings, creds.client_id)).json()
    second = refresh(grace_client, creds, first["refresh_token"]).json()
    grant_id = second["refresh_token"].split(".")[0]
    stored = redis_client.hgetall(redis_keys.grant(grant_id))
    everything = b" ".join(k + b"=" + v for k, v in stored.items())
    for secret in (*_pair(second), first["refresh_token"]):
        assert secret.encode() not in everything
    sealed = stored[b"previous_sealed"].decode()
    opened = refresh_grace.open_successor(
        sealed, preceding_token=first["refresh_token"], grant_id=grant_id
    )
    assert opened is not None and opened.refresh_token == second["refresh_token"]
    assert refresh_grace.open_successor(sealed, preceding_token="x", grant_id=grant_id) is None
    assert (
        refresh_grace.open_successor(sealed, preceding_token=first["refresh_token"], grant_id="g")
        is None
    )


def test_without_a_window_nothing_is_kept(
    client: TestClient, settings: IssuerSettings, redis_client: redis.Redis
) -> None:
    creds = register_client(settings, "strict-app")
    first = redeem(client, creds, issue_code(settings, creds.client_id)).json()
    second = refresh(client, creds, first["refresh_token"]).json()
    grant_id = second["refresh_token"].split(".")[0]
    assert b"previous_sealed" not in redis_client.hgetall(redis_keys.grant(grant_id))


async def _refresh_at_once(url: str, creds: Credentials, token: str, n: int) -> list[Any]:
    headers, fields = auth(creds)
    form = {"grant_type": "refresh_token", "refresh_token": token, **fields}
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        return list(
            await asyncio.gather(
                *(http.post("/token", data=form, headers=headers) for _ in range(n))
            )
        )


@pytest.mark.parametrize(("grace", "concurrent"), [(GRACE, 6), (0, 6)])
def test_concurrent_refreshes_over_http(
    env: dict[str, str],
    settings: IssuerSettings,
    tmp_path: Path,
    redis_client: redis.Redis,
    grace: int,
    concurrent: int,
) -> None:
    """Two egress addresses refreshing at once: with the window every request gets the one
    successor pair; without it (the default) one wins and the reuse revokes the family."""
    proc = start_issuer(
        {**env, "REFRESH_REUSE_GRACE_SECONDS": str(grace)}, tmp_path, issuer_url_from_port=True
    )
    try:
        creds = register_client(settings, f"egress-{grace}")
        with httpx.Client(base_url=proc.url, timeout=10) as http:
            first = redeem(http, creds, issue_code(settings, creds.client_id)).json()
        answers = asyncio.run(
            _refresh_at_once(proc.url, creds, first["refresh_token"], concurrent)
        )
    finally:
        proc.stop()
    ok = [a.json() for a in answers if a.status_code == 200]
    if grace:
        assert len(ok) == concurrent, [a.text for a in answers]
        assert len({_pair(body) for body in ok}) == 1
        assert live(redis_client, ok[0])
    else:
        assert {a.status_code for a in answers} <= {200, 400}
        refused = [a.json()["error"] for a in answers if a.status_code == 400]
        assert refused and set(refused) == {"invalid_grant"}
        # A reuse revoked the family: the winner's token is dead too.
        assert all(not live(redis_client, body) for body in ok)
