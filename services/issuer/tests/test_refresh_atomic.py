"""Faults around the token-issuing scripts: a refresh (rotation + new access token) and a code
redemption (grant + first access token) each happen completely or not at all, on one slot."""

from __future__ import annotations

import asyncio
import binascii
from pathlib import Path
from typing import Any

import jwt
import pytest
import redis
from fastapi.testclient import TestClient
from redis.exceptions import ConnectionError as RedisConnectionError

from authgate_issuer.app import create_app
from authgate_issuer.oauth import issuance
from authgate_issuer.oauth.credentials import hash_secret
from authgate_issuer.settings import IssuerSettings
from authgate_issuer.store import grants
from authgate_shared import redis_keys
from testsupport.issuer import issuer_env
from testsupport.issuer_ctx import issuer_context
from testsupport.redis_server import RedisServer
from testsupport.token_clients import Credentials, auth, code_form, issue_code, register_client


def slot(key: str) -> int:
    """Redis Cluster key slot: CRC16/XMODEM of the hash tag, mod 16384 (Cluster spec)."""
    start = key.find("{")
    end = key.find("}", start + 1)
    if start != -1 and end > start + 1:
        key = key[start + 1 : end]
    return binascii.crc_hqx(key.encode(), 0) % 16384


def redeem(client: TestClient, creds: Credentials, code: str) -> Any:
    headers, fields = auth(creds)
    return client.post("/token", data={**code_form(code), **fields}, headers=headers)


def refresh(client: TestClient, creds: Credentials, token: str) -> Any:
    headers, fields = auth(creds)
    form = {"grant_type": "refresh_token", "refresh_token": token, **fields}
    return client.post("/token", data=form, headers=headers)


def _scripts(pipe: Any) -> list[list[str]]:
    """KEYS and ARGV[1] of each EVALSHA queued on a pipeline."""
    calls = []
    for args, _ in pipe.command_stack:
        if args[0] == "EVALSHA":
            calls.append([str(a) for a in args[3 : 3 + int(args[2]) + 1]])
    return calls


def patch_pipelines(monkeypatch: pytest.MonkeyPatch, client: TestClient, wrap: Any) -> None:
    """Every pipeline of the app's Redis client runs ``wrap(pipe, real_execute)`` on execute:
    the issuer sends its scripts in pipelines with the commands around them (store.batch)."""
    target = client.app.state.ctx.redis  # type: ignore[attr-defined]
    real_pipeline = target.pipeline

    def pipeline(*args: Any, **kwargs: Any) -> Any:
        pipe = real_pipeline(*args, **kwargs)
        real_execute = pipe.execute

        async def execute(*e_args: Any, **e_kwargs: Any) -> Any:
            return await wrap(pipe, lambda: real_execute(*e_args, **e_kwargs))

        pipe.execute = execute
        return pipe

    monkeypatch.setattr(target, "pipeline", pipeline)


def script_fault(monkeypatch: pytest.MonkeyPatch, client: TestClient, *, ran: bool) -> None:
    """The round trip carrying the script that stores an access-token record fails with a
    connection error, before it was sent or (``ran``) after it ran with its reply lost; other
    round trips go through."""
    fired = list[bool]()
    record_key = redis_keys.all_tokens_pattern().rstrip("*")

    async def wrap(pipe: Any, execute: Any) -> Any:
        keys = [key for call in _scripts(pipe) for key in call]
        if fired or not any(k.startswith(record_key) for k in keys):
            return await execute()
        if ran:
            await execute()
        fired.append(True)
        raise RedisConnectionError("injected fault")

    patch_pipelines(monkeypatch, client, wrap)


def grant_state(r: redis.Redis, grant_id: str) -> tuple[Any, ...]:
    return (
        r.hget(redis_keys.grant(grant_id), "refresh_hash"),
        r.smembers(redis_keys.grant_tokens(grant_id)),
        r.exists(redis_keys.grant_rotated(grant_id)),
        sorted(r.keys(redis_keys.all_tokens_pattern())),
    )


@pytest.fixture
def creds(settings: IssuerSettings) -> Credentials:
    return register_client(settings, "app-1")


def test_script_failing_leaves_the_old_refresh_token_current(
    client: TestClient,
    settings: IssuerSettings,
    creds: Credentials,
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = redeem(client, creds, issue_code(settings, creds.client_id)).json()
    grant_id = first["refresh_token"].partition(".")[0]
    before = grant_state(redis_client, grant_id)
    script_fault(monkeypatch, client, ran=False)
    assert refresh(client, creds, first["refresh_token"]).status_code == 503
    assert grant_state(redis_client, grant_id) == before
    retried = refresh(client, creds, first["refresh_token"])
    assert retried.status_code == 200, retried.text
    assert refresh(client, creds, retried.json()["refresh_token"]).status_code == 200


def test_redis_killed_after_signing_keeps_the_old_refresh_token(
    tmp_path: Path, keys_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = RedisServer(tmp_path / "redis", appendonly=True).start()
    try:
        settings = IssuerSettings.from_env(issuer_env(server.url, keys_dir))
        creds = register_client(settings, "app-1")
        with TestClient(create_app(settings), base_url="https://auth.example.com") as client:
            first = redeem(client, creds, issue_code(settings, creds.client_id)).json()
            sign = issuance.sign_access_token

            def sign_then_crash(*args: Any, **kwargs: Any) -> Any:
                signed = sign(*args, **kwargs)
                server.kill()  # the JWT exists; nothing of the refresh reached Redis
                return signed

            monkeypatch.setattr(issuance, "sign_access_token", sign_then_crash)
            assert refresh(client, creds, first["refresh_token"]).status_code == 503
            monkeypatch.undo()
            server.start()
            grant_id = first["refresh_token"].partition(".")[0]
            stored = server.client().hget(redis_keys.grant(grant_id), "refresh_hash")
            assert stored == hash_secret(first["refresh_token"]).encode()
            retried = refresh(client, creds, first["refresh_token"])
            assert retried.status_code == 200, retried.text
            assert refresh(client, creds, retried.json()["refresh_token"]).status_code == 200
    finally:
        server.stop()


def test_a_lost_reply_after_rotation_makes_the_retry_a_reuse(
    client: TestClient,
    settings: IssuerSettings,
    creds: Credentials,
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Strict rotation (OAuth 2.1 §4.3.1): the documented price of a response lost after commit.
    first = redeem(client, creds, issue_code(settings, creds.client_id)).json()
    script_fault(monkeypatch, client, ran=True)
    assert refresh(client, creds, first["refresh_token"]).status_code == 503
    assert refresh(client, creds, first["refresh_token"]).json()["error"] == "invalid_grant"
    assert redis_client.keys(redis_keys.all_grants_pattern()) == []


def test_a_resent_script_is_not_reuse(settings: IssuerSettings, redis_client: redis.Redis) -> None:
    # redis.connection resends a command once after a lost reply: the same rotation twice is one.
    async def go() -> tuple[Any, ...]:
        async with issuer_context(settings) as ctx:
            tokens = await issuance.start_grant(
                ctx, client_id="c1", username="octocat", github_id="1", scope="mcp:*", resources=[]
            )
            grant = await grants.load_grant(ctx.redis, tokens.grant_id)
            assert grant is not None
            _, token = issuance.sign_access_token(
                ctx, grant, scope="mcp:*", resources=[], now=ctx.now()
            )
            kw: dict[str, Any] = {"presented_hash": grant.refresh_hash, "now": ctx.now()}
            kw |= {"ttl": 60, "token": token}
            once = await grants.rotate(ctx.redis, grant, new_hash="n1", **kw)
            twice = await grants.rotate(ctx.redis, grant, new_hash="n1", **kw)
            other = await grants.rotate(ctx.redis, grant, new_hash="n2", **kw)
            return once, twice, other, token.jti

    once, twice, other, jti = asyncio.run(go())
    assert once[:2] == twice[:2] == ("ok", [])
    assert other[0] == "reuse" and jti in other[1]


@pytest.fixture
def spied(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    calls = list[list[str]]()

    # The index scripts (one key each, in the index's own slot) are not the grant's scripts.
    indexes = tuple(
        pattern.rstrip("*")
        for pattern in (
            redis_keys.all_client_grants_pattern(),
            redis_keys.all_user_grants_pattern(),
            redis_keys.all_user_tokens_pattern(),
        )
    )

    async def wrap(pipe: Any, execute: Any) -> Any:
        calls.extend(call for call in _scripts(pipe) if not call[0].startswith(indexes))
        return await execute()

    patch_pipelines(monkeypatch, client, wrap)
    return calls


def test_every_script_key_is_in_the_grants_slot(
    client: TestClient, settings: IssuerSettings, creds: Credentials, spied: list[list[str]]
) -> None:
    first = redeem(client, creds, issue_code(settings, creds.client_id)).json()
    second = refresh(client, creds, first["refresh_token"]).json()
    assert refresh(client, creds, first["refresh_token"]).status_code == 400  # reuse
    grant_id = second["refresh_token"].partition(".")[0]
    # CREATE (grant, tokens, record), ROTATE with its record, ROTATE detecting the reuse; the
    # last item is ARGV[1], the prefix of the record keys the scripts derive from jtis.
    assert [len(call) for call in spied] == [4, 5, 4]
    for call in spied:
        assert {slot(key) for key in call} == {slot(redis_keys.grant(grant_id))}, call
    jti = jwt.decode(second["access_token"], options={"verify_signature": False})["jti"]
    assert spied[1][3] == redis_keys.token(jti)


def test_code_redemption_failing_at_the_script_leaves_nothing_live(
    client: TestClient,
    settings: IssuerSettings,
    creds: Credentials,
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code = issue_code(settings, creds.client_id)
    script_fault(monkeypatch, client, ran=False)
    assert redeem(client, creds, code).status_code == 503
    assert redis_client.keys(redis_keys.all_grants_pattern()) == []
    assert redis_client.keys(redis_keys.all_tokens_pattern()) == []
    # The code is spent (OAuth 2.1 §4.1.3: one use); the client starts a new authorization.
    assert redeem(client, creds, code).json()["error"] == "invalid_grant"


def test_tokens_of_a_lost_code_response_die_with_the_retry(
    client: TestClient,
    settings: IssuerSettings,
    creds: Credentials,
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code = issue_code(settings, creds.client_id)
    script_fault(monkeypatch, client, ran=True)
    assert redeem(client, creds, code).status_code == 503
    assert len(redis_client.keys(redis_keys.all_tokens_pattern())) == 1  # minted, never sent
    assert redeem(client, creds, code).json()["error"] == "invalid_grant"
    assert redis_client.keys(redis_keys.all_grants_pattern()) == []
    assert redis_client.keys(redis_keys.all_tokens_pattern()) == []
