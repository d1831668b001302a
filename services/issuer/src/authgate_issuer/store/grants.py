"""Grants and their tokens: ``oauth:grant:{gid}`` and the keys that share its hash slot.

A grant is one user's consent for one client: the hash holds client, user, scope, resources and
the SHA-256 of the *current* refresh token; ``grant_rotated`` remembers hashes of rotated refresh
tokens for reuse detection; ``grant_tokens`` lists the access-token jtis (``<gid>.<n>``) whose
records ``oauth:token:{gid}.<n>`` the verifier checks. All of them expire with the refresh
lifetime, which slides on every rotation (an unused grant dies REFRESH_TOKEN_LIFETIME after its
last refresh). Multi-key changes of a grant run as Lua scripts (grants_lua) on its slot; a new
grant and its first access token, or a rotation and the new access token, are each one script.

``oauth:client_grants:{client_id}``, ``oauth:user_grants:{github_id}`` and
``oauth:user_tokens:{user}`` live in other slots; they are indexes (pruned by score = expiry on every insert), never the source of truth.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.typing import EncodableT

from authgate_shared import redis_keys
from authgate_shared.redis.scripts import Script

from . import batch, grants_lua

REVOKE_BATCH = 500
CREATE = Script(grants_lua.CREATE)
ROTATE = Script(grants_lua.ROTATE)
MINT = Script(grants_lua.MINT)
INDEX = Script(grants_lua.INDEX)
REVOKE_TOKEN = Script(grants_lua.REVOKE_TOKEN)
REVOKE_GRANT = Script(grants_lua.REVOKE_GRANT)
RECORD_MEMBERSHIP = Script(grants_lua.RECORD_MEMBERSHIP)


@dataclass(frozen=True)
class Grant:
    grant_id: str
    client_id: str
    username: str
    """The user name forwarded to MCP servers: the GitHub login, or OIDC_USERNAME_CLAIM."""
    github_id: str
    """The user's stable id (field name kept for stored grants and backups): GitHub's numeric
    id, or ``oidc|<provider subject>``; it keys ``oauth:user_grants:{id}``."""
    scope: str
    resources: list[str]
    created_at: int
    expiry: int
    refresh_issued_at: int
    """When the current refresh token was issued (creation or last rotation)."""
    refresh_hash: str = field(default="", repr=False)
    groups: list[str] = field(default_factory=list)
    """The configured GitHub organisations/teams of the user at the last membership check."""
    membership_checked_at: int = 0
    """When GitHub last answered a membership check (0: never)."""
    upstream_token: str = field(default="", repr=False)
    """The user's GitHub token, sealed with the grant id as associated data (sealing); ""
    when not kept (no organisations or teams configured). Deleted with the grant."""
    provider: str = "github"
    """The login provider (grants stored before providers: GitHub). OpenID Connect grants keep
    the groups of their sign-in (``oidc:<group>``), fixed until the user signs in again."""
    email: str = ""
    """OpenID Connect: the verified e-mail of the sign-in, for the refresh's re-check."""

    def fields(self) -> dict[str, str]:
        """The hash fields (every field but the id); read one by one, not with
        ``dataclasses.asdict``, whose deep copy cost ~35 µs of every code redemption."""
        values = {f.name: str(getattr(self, f.name)) for f in _GRANT_FIELDS}
        values["resources"] = orjson.dumps(self.resources).decode()
        if self.provider == "github":  # GitHub grants' hashes stay what they always were
            del values["provider"], values["email"]
        if not self.upstream_token and self.provider == "github":
            # No organisation checks: the grant's hash stays what it always was.
            for name in _MEMBERSHIP_FIELDS:
                del values[name]
        else:
            values["groups"] = orjson.dumps(self.groups).decode()
        return values


_GRANT_FIELDS = [f for f in dataclasses.fields(Grant) if f.name != "grant_id"]
_MEMBERSHIP_FIELDS = ("groups", "membership_checked_at", "upstream_token")


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

    def script_args(self, now: int) -> list[EncodableT]:
        return [self.jti, orjson.dumps(self.record), max(self.exp - now, 1)]


# The indexes live in other slots, so no script can update them with the grant. They are
# written *before* the script (store.batch keeps that order): an index may then name a grant or
# jti that never came to be (a dangling entry, which purge-expired and the next insert remove),
# but never miss a live one, which revoke_client relies on to find every grant of a deleted
# client. Each update is one script on the index's own key (grants_lua.INDEX), idempotent.


def _index(key: str, member: str, expiry: int, now: int) -> batch.Queue:
    def queue(pipe: Pipeline) -> None:
        INDEX.queue(pipe, [key], [member, expiry, now])

    return queue


def index_grant(grant: Grant, expiry: int, now: int) -> batch.Queue:
    """The grant in its client's index and its user's (the account page, store.user_grants)."""
    return batch.chain(
        _index(redis_keys.client_grants(grant.client_id), grant.grant_id, expiry, now),
        _index(redis_keys.user_grants(grant.github_id), grant.grant_id, expiry, now),
    )


def index_token(token: NewToken, now: int) -> batch.Queue:
    return _index(redis_keys.user_tokens(token.username), token.jti, token.exp, now)


async def create_grant(
    redis: aioredis.Redis,
    grant: Grant,
    *,
    now: int,
    ttl: int,
    token: NewToken | None = None,
    before: batch.Queue = batch.nothing,
    after: batch.Queue = batch.nothing,
) -> list[Any]:
    """Write a new grant and, if given, its first access token in one script (both or neither).

    ``before`` (idempotent) runs before the indexes and the script, ``after`` once the script
    has run; returns ``after``'s results (store.batch: one round trip where order allows)."""
    keys = [redis_keys.grant(grant.grant_id), redis_keys.grant_tokens(grant.grant_id)]
    args: list[EncodableT] = [*_script_args(grant.grant_id)[:2], ttl]
    indexes = [index_grant(grant, grant.expiry, now)]
    if token is None:
        args += ["", "", 0]
    else:
        indexes.append(index_token(token, now))
        keys.append(redis_keys.token(token.jti))
        args += token.script_args(now)
    args += [item for pair in grant.fields().items() for item in pair]
    run = await batch.around_script(
        redis, CREATE, keys, args, before=batch.chain(before, *indexes), after=after
    )
    return run.after


def parse_grant(grant_id: str, raw: dict[Any, Any]) -> Grant | None:
    """The grant from its hash as HGETALL returns it; None when the hash is absent (empty)."""
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
        # Grants stored before organisation checks existed lack the last three fields.
        groups=list(orjson.loads(data.get("groups", "[]"))),
        membership_checked_at=int(data.get("membership_checked_at", 0)),
        upstream_token=data.get("upstream_token", ""),
        provider=data.get("provider", "github"),
        email=data.get("email", ""),
    )


def read_grant(grant_id: str) -> batch.Read[Grant | None]:
    """The grant as one pipelined read (store.batch); None when absent."""

    def queue(pipe: Pipeline) -> None:
        pipe.hgetall(redis_keys.grant(grant_id))

    return batch.one_command(queue, lambda raw: parse_grant(grant_id, raw))


async def load_grant(redis: aioredis.Redis, grant_id: str) -> Grant | None:
    return parse_grant(grant_id, await redis.hgetall(redis_keys.grant(grant_id)))


class Rotation(NamedTuple):
    status: str
    """"ok", "invalid" (not a current or rotated token of this grant), "grace" (the preceding
    token within REFRESH_REUSE_GRACE_SECONDS) or "reuse"."""
    revoked: list[str]
    """The access tokens revoked with the grant on reuse."""
    after: list[Any]
    """The results of the commands queued to run after the script."""
    sealed: str | None = None
    """With status "grace": the successor pair the preceding rotation gave, sealed."""


async def rotate(
    redis: aioredis.Redis,
    grant: Grant,
    *,
    presented_hash: str,
    new_hash: str,
    now: int,
    ttl: int,
    token: NewToken | None = None,
    grace: int = 0,
    sealed: str = "",
    after: batch.Queue = batch.nothing,
) -> Rotation:
    """Compare-and-swap of the refresh-token hash, storing ``token`` in the same script.
    Without a token it only detects reuse. ``after`` runs once the script has (store.batch).

    ``grace`` > 0 (``REFRESH_REUSE_GRACE_SECONDS``): a rotation keeps ``sealed`` (the successor
    pair, oauth.refresh_grace) for that long, and the preceding token presented again within it
    gets status "grace" and the sealed pair (``Rotation.sealed``)."""
    keys = _keys(grant.grant_id)
    args: list[EncodableT] = [*_script_args(grant.grant_id), presented_hash, new_hash]
    args += [grant.client_id, ttl, now + ttl, now, grace, sealed]
    before: batch.Queue = batch.nothing
    if token is not None:
        before = batch.chain(index_grant(grant, now + ttl, now), index_token(token, now))
        keys.append(redis_keys.token(token.jti))
        args += token.script_args(now)
    run = await batch.around_script(redis, ROTATE, keys, args, before=before, after=after)
    status, *rest = (_text(item) for item in run.result)
    if status == "ok" and token is None:
        await batch.run(redis, index_grant(grant, now + ttl, now))
    if status == "grace":
        return Rotation(status=status, revoked=[], after=run.after, sealed=rest[0])
    return Rotation(status=status, revoked=rest, after=run.after)


async def record_membership(
    redis: aioredis.Redis,
    grant_id: str,
    *,
    groups: list[str],
    checked_at: int,
    upstream_token: str | None = None,
) -> bool:
    """Store a refresh's membership re-check in the grant (and the upstream token sealed anew,
    when given); False if the grant is gone (a plain HSET would recreate a revoked grant as a
    partial hash)."""
    args: list[EncodableT] = ["groups", orjson.dumps(groups), "membership_checked_at", checked_at]
    if upstream_token is not None:
        args += ["upstream_token", upstream_token]
    return bool(await RECORD_MEMBERSHIP(redis, keys=[redis_keys.grant(grant_id)], args=args))


async def mint_token(
    redis: aioredis.Redis, *, jti: str, record: dict[str, object], username: str, exp: int, now: int
) -> bool:
    """Store one more access-token record in its grant; False if the grant is gone (revoked)."""
    token = NewToken(jti=jti, record=record, username=username, exp=exp)
    grant_id = redis_keys.grant_id_of_jti(jti)
    keys = [redis_keys.grant(grant_id), redis_keys.grant_tokens(grant_id), redis_keys.token(jti)]
    args = [*_script_args(grant_id)[:2], *token.script_args(now)]
    run = await batch.around_script(redis, MINT, keys, args, before=index_token(token, now))
    return bool(run.result)


async def load_token_record(redis: aioredis.Redis, jti: str) -> dict[str, object] | None:
    raw = await redis.get(redis_keys.token(jti))
    return None if raw is None else dict(orjson.loads(raw))


async def revoke_token(redis: aioredis.Redis, jti: str) -> bool:
    """Delete one access-token record and publish its jti; False if it was not live."""
    grant_id = redis_keys.grant_id_of_jti(jti)
    keys = [redis_keys.grant_tokens(grant_id), redis_keys.token(jti)]
    return bool(await REVOKE_TOKEN(redis, keys=keys, args=[jti, redis_keys.REVOCATION_CHANNEL]))


async def revoke_grant(redis: aioredis.Redis, grant_id: str) -> tuple[bool, list[str]]:
    """Delete the grant and every access-token record of it (each jti published).

    Returns (whether the grant existed, revoked jtis). The client index entry is left to be
    pruned; a dangling grant id there is harmless.
    """
    result = await REVOKE_GRANT(redis, keys=_keys(grant_id), args=_script_args(grant_id))
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
