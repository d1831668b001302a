"""The grant store on a real Redis: records, indexes, rotation, revocation and its pub/sub."""

from __future__ import annotations

import asyncio
import time

import orjson
import redis

from authgate_issuer.oauth.credentials import hash_secret
from authgate_issuer.oauth.issuance import GrantRevoked, mint_access_token, start_grant
from authgate_issuer.settings import IssuerSettings
from authgate_issuer.store import grants
from authgate_shared import redis_keys
from testsupport.issuer import issuer_env
from testsupport.issuer_ctx import issuer_context


def _start(settings: IssuerSettings, client_id: str = "c1", username: str = "octocat", **kw):
    async def go():
        async with issuer_context(settings, **kw) as ctx:
            return await start_grant(
                ctx,
                client_id=client_id,
                username=username,
                github_id="583231",
                scope="mcp:*",
                resources=["https://mcp.example.com/x"],
            )

    return asyncio.run(go())


def test_start_grant_writes_grant_token_record_and_indexes(
    settings: IssuerSettings, redis_client: redis.Redis
) -> None:
    tokens = _start(settings)
    gid = tokens.grant_id
    grant = redis_client.hgetall(redis_keys.grant(gid))
    assert grant[b"client_id"] == b"c1"
    assert grant[b"username"] == b"octocat"
    assert grant[b"github_id"] == b"583231"
    assert orjson.loads(grant[b"resources"]) == ["https://mcp.example.com/x"]
    assert grant[b"refresh_hash"].decode() == hash_secret(tokens.refresh_token)
    assert tokens.refresh_token.encode() not in b"".join(grant.values())
    ttl = redis_client.ttl(redis_keys.grant(gid))
    assert settings.refresh_token_lifetime - 5 < ttl <= settings.refresh_token_lifetime
    assert tokens.jti.startswith(gid + ".")
    record = orjson.loads(redis_client.get(redis_keys.token(tokens.jti)))
    assert record["client_id"] == "c1" and record["user_id"] == "octocat"
    assert record["scope"] == "mcp:*"
    assert record["expires_at"] - record["created_at"] == settings.access_token_lifetime
    token_ttl = redis_client.ttl(redis_keys.token(tokens.jti))
    assert settings.access_token_lifetime - 5 < token_ttl <= settings.access_token_lifetime
    assert redis_client.smembers(redis_keys.grant_tokens(gid)) == {tokens.jti.encode()}
    assert (
        redis_client.zscore(redis_keys.user_tokens("octocat"), tokens.jti) == record["expires_at"]
    )
    assert redis_client.ttl(redis_keys.user_tokens("octocat")) > 0
    assert redis_client.zscore(redis_keys.client_grants("c1"), gid) is not None
    assert redis_client.ttl(redis_keys.client_grants("c1")) > 0


def test_user_tokens_is_pruned_on_insert(
    settings: IssuerSettings, redis_client: redis.Redis
) -> None:
    start = time.time()
    first = _start(settings, clock=lambda: start)
    later = start + settings.access_token_lifetime + 1
    second = _start(settings, clock=lambda: later)
    members = redis_client.zrange(redis_keys.user_tokens("octocat"), 0, -1)
    assert members == [second.jti.encode()], "the expired jti must be pruned"
    assert first.jti != second.jti


def test_a_shorter_lived_token_never_shortens_its_index(
    settings: IssuerSettings, redis_client: redis.Redis, redis_url: str, keys_dir
) -> None:
    # A lowered ACCESS_TOKEN_LIFETIME: the index must still outlive the earlier, longer token.
    long = _start(settings)
    short_settings = IssuerSettings.from_env(
        issuer_env(redis_url, keys_dir, ACCESS_TOKEN_LIFETIME="60")
    )
    short = _start(short_settings)
    index = redis_keys.user_tokens("octocat")
    assert set(redis_client.zrange(index, 0, -1)) == {long.jti.encode(), short.jti.encode()}
    expire_at = time.time() + redis_client.ttl(index)
    assert expire_at >= redis_client.zscore(index, long.jti) >= time.time() + 3600
    assert redis_client.ttl(redis_keys.client_grants("c1")) > settings.refresh_token_lifetime - 5


def test_rotation_ok_then_reuse_revokes_the_family(
    settings: IssuerSettings, redis_client: redis.Redis
) -> None:
    tokens = _start(settings)
    gid = tokens.grant_id
    old_hash = hash_secret(tokens.refresh_token)

    async def go():
        async with issuer_context(settings) as ctx:
            grant = await grants.load_grant(ctx.redis, gid)
            assert grant is not None and grant.refresh_hash == old_hash
            ok = await grants.rotate(
                ctx.redis, grant, presented_hash=old_hash, new_hash="new", now=ctx.now(), ttl=100
            )
            _, second_jti = await mint_access_token(ctx, grant, scope="mcp:*", resources=[])
            reuse = await grants.rotate(
                ctx.redis, grant, presented_hash=old_hash, new_hash="x", now=ctx.now(), ttl=100
            )
            return ok, second_jti, reuse

    pubsub = redis_client.pubsub()
    pubsub.subscribe(redis_keys.REVOCATION_CHANNEL)
    assert pubsub.get_message(timeout=2)["type"] == "subscribe"
    ok, second_jti, reuse = asyncio.run(go())
    assert ok[:2] == ("ok", [])
    assert reuse[0] == "reuse"
    assert sorted(reuse[1]) == sorted([tokens.jti, second_jti])
    for key in (redis_keys.grant(gid), redis_keys.grant_tokens(gid), redis_keys.grant_rotated(gid)):
        assert not redis_client.exists(key)
    assert not redis_client.exists(redis_keys.token(tokens.jti))
    assert not redis_client.exists(redis_keys.token(second_jti))
    published = {pubsub.get_message(timeout=2)["data"] for _ in range(2)}
    assert published == {tokens.jti.encode(), second_jti.encode()}


def test_rotation_refuses_unknown_hash_and_other_client(
    settings: IssuerSettings, redis_client: redis.Redis
) -> None:
    tokens = _start(settings)
    good = hash_secret(tokens.refresh_token)

    async def go():
        async with issuer_context(settings) as ctx:
            grant = await grants.load_grant(ctx.redis, tokens.grant_id)
            assert grant is not None
            other = grants.Grant(**{**grant.__dict__, "client_id": "c2"})
            unknown = await grants.rotate(
                ctx.redis, grant, presented_hash="nope", new_hash="n", now=ctx.now(), ttl=9
            )
            foreign = await grants.rotate(
                ctx.redis, other, presented_hash=good, new_hash="n", now=ctx.now(), ttl=9
            )
            return unknown, foreign

    assert [r[:2] for r in asyncio.run(go())] == [("invalid", []), ("invalid", [])]
    stored = redis_client.hget(redis_keys.grant(tokens.grant_id), "refresh_hash")
    assert stored == good.encode(), "a refused rotation must not change anything"
    assert redis_client.exists(redis_keys.token(tokens.jti))


def test_revoke_client_revokes_every_grant_and_publishes(
    settings: IssuerSettings, redis_client: redis.Redis
) -> None:
    a, b = _start(settings), _start(settings, username="hubot")
    other = _start(settings, client_id="c2")
    pubsub = redis_client.pubsub()
    pubsub.subscribe(redis_keys.REVOCATION_CHANNEL)
    assert pubsub.get_message(timeout=2)["type"] == "subscribe"

    async def go():
        async with issuer_context(settings) as ctx:
            count = await grants.revoke_client(ctx.redis, "c1")
            grant = await grants.load_grant(ctx.redis, other.grant_id)
            assert grant is not None
            try:
                await mint_access_token(ctx, grant, scope="mcp:*", resources=[])
                b_grant = grants.Grant(**{**grant.__dict__, "grant_id": b.grant_id})
                await mint_access_token(ctx, b_grant, scope="mcp:*", resources=[])
            except GrantRevoked:
                return count, "refused"
            return count, "minted"

    assert asyncio.run(go()) == (2, "refused")
    for tokens in (a, b):
        assert not redis_client.exists(redis_keys.grant(tokens.grant_id))
        assert not redis_client.exists(redis_keys.token(tokens.jti))
    assert not redis_client.exists(redis_keys.client_grants("c1"))
    assert redis_client.exists(redis_keys.token(other.jti))
    published = {pubsub.get_message(timeout=2)["data"] for _ in range(2)}
    assert published == {a.jti.encode(), b.jti.encode()}


def test_grant_token_set_stays_bounded(settings: IssuerSettings, redis_client: redis.Redis) -> None:
    tokens = _start(settings)
    gid = tokens.grant_id

    async def go():
        async with issuer_context(settings) as ctx:
            grant = await grants.load_grant(ctx.redis, gid)
            assert grant is not None
            for _ in range(300):
                _, jti = await mint_access_token(ctx, grant, scope="mcp:*", resources=[])
                # The record expiring is simulated by deleting it.
                await ctx.redis.delete(redis_keys.token(jti))

    asyncio.run(go())
    assert redis_client.scard(redis_keys.grant_tokens(gid)) < 80


def test_refresh_token_grant_id_parsing() -> None:
    assert grants.grant_id_of_refresh_token("abc.def") == "abc"
    for bad in ("abc", ".def", "abc.", "{a}.b", "a" * 65 + ".b"):
        assert grants.grant_id_of_refresh_token(bad) is None


def test_grant_fields_are_every_field_but_the_id_as_text() -> None:
    grant = grants.Grant("g1", "c1", "octocat", "1", "mcp:*", ["https://a"], 1, 2, 3, "h")
    assert grant.fields() == {
        "client_id": "c1",
        "username": "octocat",
        "github_id": "1",
        "scope": "mcp:*",
        "resources": '["https://a"]',
        "created_at": "1",
        "expiry": "2",
        "refresh_issued_at": "3",
        "refresh_hash": "h",
    }
    assert grants.parse_grant("g1", grant.fields()) == grant
