"""``authgate backup`` / ``restore``: a round trip through a scratch Redis keeps everything working."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import redis
from fastapi.testclient import TestClient

from authgate_issuer.oauth.issuance import start_grant
from authgate_issuer.settings import IssuerSettings
from authgate_shared import claims as jwt_claims
from authgate_shared import redis_keys
from authgate_shared.keys import parse_jwks
from testsupport.admin_cli import (
    admin_env,
    jti_of,
    login,
    open_app,
    refresh,
    register,
    run,
    run_process,
)
from testsupport.issuer import issuer_env
from testsupport.issuer_ctx import issuer_context
from testsupport.redis_server import RedisServer


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "scratch").start()
    yield server
    server.stop()


def records(client: redis.Redis) -> dict[str, int]:
    """Record keys (clients, grants, tokens) with their remaining TTL in ms."""
    keys: dict[str, int] = {}
    for pattern in ("oauth:client:*", "oauth:grant:*", "oauth:token:*"):
        for key in client.scan_iter(match=pattern):
            keys[key.decode()] = client.pttl(key)
    return keys


def test_round_trip_restores_working_clients_and_tokens(
    app: TestClient,
    open_settings: IssuerSettings,
    redis_url: str,
    keys_dir: Path,
    redis_client: redis.Redis,
    scratch: RedisServer,
    tmp_path: Path,
) -> None:
    alpha, beta = register(app, "Alpha"), register(app, "Beta", public=True)
    first = login(app, open_settings, alpha, "octocat")
    current = refresh(app, alpha, first["refresh_token"]).json()  # first's refresh is rotated
    public = login(app, open_settings, beta, "hubot")
    short = IssuerSettings.from_env(
        issuer_env(redis_url, keys_dir, ALLOWED_GITHUB_USERS="*", ACCESS_TOKEN_LIFETIME="5")
    )

    async def soon_expired() -> str:
        async with issuer_context(short) as ctx:
            minted = await start_grant(
                ctx, client_id=alpha.client_id, username="x", github_id="1", scope="s", resources=[]
            )
            return minted.jti

    expiring = asyncio.run(soon_expired())
    minted_at = time.monotonic()
    before = records(redis_client)
    file = tmp_path / "not" / "yet" / "there" / "backup.jsonl"

    made = run_process(admin_env(redis_url, keys_dir), "backup", str(file))
    assert made.code == 0, made.err
    text = file.read_text()
    lines = [orjson.loads(line) for line in text.splitlines()]
    assert lines[0]["format"] == "authgate-backup" and lines[0]["version"] == 1
    assert lines[-1] == {"type": "end", "records": len(lines) - 2}
    assert {line["type"] for line in lines[1:-1]} == {"jwks", "client", "grant", "token"}
    for secret in (alpha.secret, alpha.registration_token, beta.registration_token):
        assert secret is not None and secret not in text
    for tokens in (first, current, public):
        assert tokens["refresh_token"].partition(".")[2] not in text
        assert tokens["access_token"] not in text
    assert not list(file.parent.glob("*.partial"))
    assert expiring in text, "the backup must be taken while `expiring` is alive"
    # `expiring` (5 s lifetime) dies between backup and restore, however slow the machine.
    time.sleep(max(0.0, 5.3 - (time.monotonic() - minted_at)))

    scratch_env = admin_env(scratch.url, keys_dir)
    restored = run_process(scratch_env, "restore", str(file), "--json")
    assert restored.code == 0, restored.err
    assert restored.json()["tokens_expired"] == 1
    assert restored.json()["clients_restored"] == 2
    target = scratch.client()
    after = records(target)
    assert set(after) == set(before) - {redis_keys.token(expiring)}
    for key, ttl in after.items():
        assert 0 < ttl <= before[key], key  # remaining lifetimes kept, never extended
    snapshot = {k: target.dump(k) for k in after}
    # The expiry schedule is not in the file (derived from the records) and is rebuilt.
    assert redis_keys.CLIENT_EXPIRY not in text
    schedule = redis_client.zrange(redis_keys.CLIENT_EXPIRY, 0, -1, withscores=True)
    assert len(schedule) == 2
    assert target.zrange(redis_keys.CLIENT_EXPIRY, 0, -1, withscores=True) == schedule

    again = run(scratch_env, "restore", str(file), "--json")
    assert again.code == 0
    assert not any(k.endswith("_restored") for k in again.json())
    assert {k: target.dump(k) for k in records(target)} == snapshot

    moved = IssuerSettings.from_env(issuer_env(scratch.url, keys_dir, ALLOWED_GITHUB_USERS="*"))
    with open_app(moved) as restored_app:
        assert refresh(restored_app, alpha, current["refresh_token"]).status_code == 200
        assert refresh(restored_app, beta, public["refresh_token"]).status_code == 200
        config = restored_app.get(
            f"/register/{alpha.client_id}",
            headers={"Authorization": f"Bearer {alpha.registration_token}"},
        )
        assert config.status_code == 200
        assert config.json()["client_name"] == "Alpha"
        # The rotated refresh token is still recognised as reuse (revokes the grant).
        assert refresh(restored_app, alpha, first["refresh_token"]).status_code == 400
        assert refresh(restored_app, alpha, current["refresh_token"]).status_code == 400
    keys = parse_jwks(target.get(redis_keys.JWKS))
    claims = jwt_claims.decode(
        public["access_token"],
        keys=dict(keys),
        algorithm="RS256",
        issuer=open_settings.issuer_url,
        now=time.time(),
    )
    assert target.exists(redis_keys.token(claims["jti"]))
    assert jti_of(public["access_token"]) in {
        m.decode() for m in target.zrange(redis_keys.user_tokens("hubot"), 0, -1)
    }
    target.close()


def test_restore_refuses_unknown_versions_and_truncated_files(
    redis_url: str, keys_dir: Path, redis_client: redis.Redis, tmp_path: Path
) -> None:
    env = admin_env(redis_url, keys_dir)
    future = tmp_path / "future.jsonl"
    future.write_text('{"format":"authgate-backup","version":2,"created_at_ms":0}\n')
    refused = run_process(env, "restore", str(future))
    assert refused.code == 2
    assert "version 2 is not supported" in refused.err

    cut = tmp_path / "cut.jsonl"
    record = {"type": "client", "client_id": "c", "ttl_ms": None, "record": {"client_id": "c"}}
    header = {"format": "authgate-backup", "version": 1, "created_at_ms": int(time.time() * 1000)}
    cut.write_bytes(orjson.dumps(header) + b"\n" + orjson.dumps(record) + b"\n")
    truncated = run(env, "restore", str(cut))
    assert truncated.code == 2 and "truncated" in truncated.err
    assert redis_client.dbsize() == 0  # nothing written from a bad file

    foreign = tmp_path / "foreign.jsonl"
    foreign.write_text('{"hello": 1}\n')
    assert run(env, "restore", str(foreign)).code == 2
    assert run(env, "restore", str(tmp_path / "missing.jsonl")).code == 1
