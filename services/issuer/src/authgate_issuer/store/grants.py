"""Grants and their tokens: ``oauth:grant:{gid}`` and the keys that share its hash slot.

A grant is one user's consent for one client: the hash holds client, user, scope, resources and
the SHA-256 of the *current* refresh token; ``grant_rotated`` remembers hashes of rotated refresh
tokens for reuse detection; ``grant_tokens`` lists the access-token jtis (``<gid>.<n>``) whose
records ``oauth:token:{gid}.<n>`` the verifier checks. All of them expire with the refresh
lifetime, which slides on every rotation (an unused grant dies REFRESH_TOKEN_LIFETIME after its
last refresh). Multi-key changes of a grant run as Lua scripts (grants_lua) on its slot; a new
grant and its first access token, or a rotation and the new access token, are each one script.

``oauth:client_grants:{client_id}`` and ``oauth:user_tokens:{user}`` live in other slots; they
are indexes (pruned by score = expiry on every insert), never the source of truth.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import orjson
import redis.asyncio as aioredis

from authgate_shared import redis_keys

from . import grants_lua

REVOKE_BATCH = 500


@dataclass(frozen=True)
class Grant:
    grant_id: str
    client_id: str
    username: str
    github_id: str
    scope: str
    resources: list[str]
    created_at: int
    expiry: int
    refresh_issued_at: int
    """When the current refresh token was issued (creation or last rotation)."""
    refresh_hash: str = field(default="", repr=False)

    def fields(self) -> dict[str, str]:
        values = {k: str(v) for k, v in dataclasses.asdict(self).items() if k != "grant_id"}
        values["resources"] = orjson.dumps(self.resources).decode()
        return values


def grant_id_of_refresh_token(token: str) -> str | None:
    """The grant id prefix of a refresh token ``<gid>.<secret>``; None if malformed."""
    grant_id, dot, secret = token.partition(".")
    if not dot or not grant_id or not secret or "{" in grant_id or "}" in grant_id:
        return None
    return grant_id if len(grant_id) <= 64 else None


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _keys(grant_id: str) -> list[str]:
    return [
        redis_keys.grant(grant_id),
        redis_keys.grant_tokens(grant_id),
        redis_keys.grant_rotated(grant_id),
    ]


def _script_args(grant_id: str) -> list[str]:
    return [redis_keys.token(f"{grant_id}."), grant_id, redis_keys.REVOCATION_CHANNEL]


@dataclass(frozen=True)
class NewToken:
    """An access-token record to store: the JSON the verifier checks, kept until ``exp``."""

    jti: str
    record: dict[str, object]
    username: str
    exp: int

    def script_args(self, now: int) -> list[str | bytes | int]:
        return [self.jti, orjson.dumps(self.record), max(self.exp - now, 1)]


# The two indexes live in other slots, so no script can update them with the grant. They are
# written *before* the script: an index may then name a grant or jti that never came to be (a
# dangling entry, which purge-expired and the next insert remove), but never miss a live one,
# which revoke_client relies on to find every grant of a deleted client.


async def _index_grant(redis: aioredis.Redis, grant: Grant, expiry: int, now: int) -> None:
    key = redis_keys.client_grants(grant.client_id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zadd(key, {grant.grant_id: expiry})
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.expire(key, max(expiry - now, 1))
        await pipe.execute()


async def _index_token(redis: aioredis.Redis, token: NewToken, now: int) -> None:
    key = redis_keys.user_tokens(token.username)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zadd(key, {token.jti: token.exp})
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.expire(key, max(token.exp - now, 1))
        await pipe.execute()


async def create_grant(
    redis: aioredis.Redis, grant: Grant, *, now: int, ttl: int, token: NewToken | None = None
) -> None:
    """Write a new grant and, if given, its first access token in one script (both or neither)."""
    await _index_grant(redis, grant, grant.expiry, now)
    keys = [redis_keys.grant(grant.grant_id), redis_keys.grant_tokens(grant.grant_id)]
    args: list[str | bytes | int] = [*_script_args(grant.grant_id)[:2], ttl]
    if token is None:
        args += ["", "", 0]
    else:
        await _index_token(redis, token, now)
        keys.append(redis_keys.token(token.jti))
        args += token.script_args(now)
    args += [item for pair in grant.fields().items() for item in pair]
    await redis.register_script(grants_lua.CREATE)(keys=keys, args=args)


async def load_grant(redis: aioredis.Redis, grant_id: str) -> Grant | None:
    raw = await redis.hgetall(redis_keys.grant(grant_id))
    if not raw:
        return None
    data = {_text(k): _text(v) for k, v in raw.items()}
    return Grant(
        grant_id=grant_id,
        client_id=data["client_id"],
        username=data["username"],
        github_id=data["github_id"],
        scope=data["scope"],
        resources=list(orjson.loads(data["resources"])),
        created_at=int(data["created_at"]),
        expiry=int(data["expiry"]),
        refresh_issued_at=int(data["refresh_issued_at"]),
        refresh_hash=data["refresh_hash"],
    )


async def rotate(
    redis: aioredis.Redis,
    grant: Grant,
    *,
    presented_hash: str,
    new_hash: str,
    now: int,
    ttl: int,
    token: NewToken | None = None,
) -> tuple[str, list[str]]:
    """Compare-and-swap of the refresh-token hash, storing ``token`` in the same script:
    ("ok"|"invalid"|"reuse", revoked jtis). Without a token it only detects reuse."""
    keys = _keys(grant.grant_id)
    args: list[str | bytes | int] = [*_script_args(grant.grant_id), presented_hash, new_hash]
    args += [grant.client_id, ttl, now + ttl, now]
    if token is not None:
        await _index_grant(redis, grant, now + ttl, now)
        await _index_token(redis, token, now)
        keys.append(redis_keys.token(token.jti))
        args += token.script_args(now)
    result = await redis.register_script(grants_lua.ROTATE)(keys=keys, args=args)
    status = _text(result[0])
    if status == "ok" and token is None:
        await _index_grant(redis, grant, now + ttl, now)
    return status, [_text(j) for j in result[1:]]


async def mint_token(
    redis: aioredis.Redis, *, jti: str, record: dict[str, object], username: str, exp: int, now: int
) -> bool:
    """Store one more access-token record in its grant; False if the grant is gone (revoked)."""
    token = NewToken(jti=jti, record=record, username=username, exp=exp)
    grant_id = redis_keys.grant_id_of_jti(jti)
    keys = [redis_keys.grant(grant_id), redis_keys.grant_tokens(grant_id), redis_keys.token(jti)]
    await _index_token(redis, token, now)
    args = [*_script_args(grant_id)[:2], *token.script_args(now)]
    return bool(await redis.register_script(grants_lua.MINT)(keys=keys, args=args))


async def load_token_record(redis: aioredis.Redis, jti: str) -> dict[str, object] | None:
    raw = await redis.get(redis_keys.token(jti))
    return None if raw is None else dict(orjson.loads(raw))


async def revoke_token(redis: aioredis.Redis, jti: str) -> bool:
    """Delete one access-token record and publish its jti; False if it was not live."""
    grant_id = redis_keys.grant_id_of_jti(jti)
    keys = [redis_keys.grant_tokens(grant_id), redis_keys.token(jti)]
    script = redis.register_script(grants_lua.REVOKE_TOKEN)
    return bool(await script(keys=keys, args=[jti, redis_keys.REVOCATION_CHANNEL]))


async def revoke_grant(redis: aioredis.Redis, grant_id: str) -> tuple[bool, list[str]]:
    """Delete the grant and every access-token record of it (each jti published).

    Returns (whether the grant existed, revoked jtis). The client index entry is left to be
    pruned; a dangling grant id there is harmless.
    """
    script = redis.register_script(grants_lua.REVOKE_GRANT)
    result = await script(keys=_keys(grant_id), args=_script_args(grant_id))
    return bool(result[0]), [_text(j) for j in result[1:]]


async def revoke_client(redis: aioredis.Redis, client_id: str) -> int:
    """Revoke every grant of the client with all its tokens; returns the number of grants.

    Bounded by the client's own index (never a keyspace scan); loops until the index is empty so
    grants created while it runs are revoked too.
    """
    key = redis_keys.client_grants(client_id)
    count = 0
    while batch := await redis.zrange(key, 0, REVOKE_BATCH - 1):
        for raw in batch:
            existed, _ = await revoke_grant(redis, _text(raw))
            count += existed
        await redis.zrem(key, *batch)
    await redis.delete(key)
    return count
