"""The per-user grant index (``oauth:user_grants:{github_id}``) on a real Redis: written with
the grant and on rotation, read back without dangling or foreign ids."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import redis

from authgate_issuer.oauth.credentials import hash_secret
from authgate_issuer.oauth.issuance import start_grant
from authgate_issuer.settings import IssuerSettings
from authgate_issuer.store import grants
from authgate_issuer.store.user_grants import grants_of_user
from authgate_shared import redis_keys
from testsupport.admin_cli import admin_env, run
from testsupport.browser_flow import store_client
from testsupport.issuer_ctx import issuer_context


def _start(settings: IssuerSettings, client_id: str, github_id: str = "583231") -> str:
    async def go() -> str:
        async with issuer_context(settings) as ctx:
            tokens = await start_grant(
                ctx,
                client_id=client_id,
                username=f"user{github_id}",
                github_id=github_id,
                scope="mcp:*",
                resources=["https://mcp.example.com/x"],
            )
            return tokens.grant_id

    return asyncio.run(go())


def _of_user(settings: IssuerSettings, github_id: str) -> list[grants.Grant]:
    async def go() -> list[grants.Grant]:
        async with issuer_context(settings) as ctx:
            return await grants_of_user(ctx.redis, github_id)

    return asyncio.run(go())


def test_new_grants_are_indexed_under_the_github_id(
    settings: IssuerSettings, redis_client: redis.Redis
) -> None:
    first, second = _start(settings, "c1"), _start(settings, "c2")
    other = _start(settings, "c1", github_id="9")
    index = redis_keys.user_grants("583231")
    assert {m.decode() for m in redis_client.zrange(index, 0, -1)} == {first, second}
    expiry = int(redis_client.hget(redis_keys.grant(first), "expiry"))
    assert redis_client.zscore(index, first) == expiry
    assert redis_client.ttl(index) > settings.refresh_token_lifetime - 5
    found = _of_user(settings, "583231")
    assert {g.grant_id for g in found} == {first, second}
    assert {g.client_id for g in found} == {"c1", "c2"}
    assert [g.grant_id for g in _of_user(settings, "9")] == [other]
    assert _of_user(settings, "404") == []


def test_revoked_and_foreign_ids_are_dropped(
    settings: IssuerSettings, redis_client: redis.Redis
) -> None:
    kept, revoked = _start(settings, "c1"), _start(settings, "c2")
    foreign = _start(settings, "c3", github_id="9")

    async def revoke() -> None:
        async with issuer_context(settings) as ctx:
            await grants.revoke_grant(ctx.redis, revoked)

    asyncio.run(revoke())
    # An index entry naming another user's grant (damage) must not show it to this user.
    redis_client.zadd(redis_keys.user_grants("583231"), {foreign: 2**40})
    assert [g.grant_id for g in _of_user(settings, "583231")] == [kept]


def test_rotation_moves_the_index_score_to_the_new_expiry(
    settings: IssuerSettings, redis_client: redis.Redis
) -> None:
    gid = _start(settings, "c1")
    index = redis_keys.user_grants("583231")
    redis_client.zadd(index, {gid: 1000})

    async def go() -> str:
        async with issuer_context(settings) as ctx:
            grant = await grants.load_grant(ctx.redis, gid)
            assert grant is not None
            rotation = await grants.rotate(
                ctx.redis,
                grant,
                presented_hash=grant.refresh_hash,
                new_hash=hash_secret("next"),
                now=ctx.now(),
                ttl=5000,
            )
            return rotation.status

    assert asyncio.run(go()) == "ok"
    score = redis_client.zscore(index, gid)
    assert score is not None and score > 1000


def test_restore_rebuilds_the_index_and_purge_scan_prunes_and_fills_it(
    settings: IssuerSettings,
    redis_client: redis.Redis,
    redis_url: str,
    keys_dir: Path,
    tmp_path: Path,
) -> None:
    store_client(redis_client, ["https://app.example.com/cb"], client_id="c1")  # a live client
    gid = _start(settings, "c1")
    env = admin_env(redis_url, keys_dir)
    file = tmp_path / "backup.jsonl"
    assert run(env, "backup", str(file)).code == 0
    index = redis_keys.user_grants("583231")
    redis_client.delete(index)
    assert run(env, "restore", str(file)).code == 0
    assert {m.decode() for m in redis_client.zrange(index, 0, -1)} == {gid}
    assert redis_client.ttl(index) > 0

    # Dangling entries older than the purge's grace (a revoked grant, an expired one) go; the
    # live grant stays.
    now = int(time.time())
    redis_client.zadd(index, {"revoked-long-ago": now + 100, "expired": now - 10})
    result = run(env, "purge-expired", "--scan", "--json")
    assert result.code == 0, result.err
    assert result.json()["user_grants_entries"] == 2
    assert result.json()["user_grants_entries_added"] == 0
    assert {m.decode() for m in redis_client.zrange(index, 0, -1)} == {gid}

    # A grant written before the index existed is filed by the scan, with its expiry.
    redis_client.delete(index)
    filed = run(env, "purge-expired", "--scan", "--json")
    assert filed.code == 0, filed.err
    assert filed.json()["user_grants_entries_added"] == 1
    expiry = int(redis_client.hget(redis_keys.grant(gid), "expiry"))
    assert redis_client.zscore(index, gid) == expiry
    assert redis_client.ttl(index) > 0
