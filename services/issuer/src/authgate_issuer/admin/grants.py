"""``authgate grants list|show|revoke``: live grants, their upstream-token status, revocation.

A grant is one user's consent for one client (store.grants). The GitHub token a grant keeps is
reported by its status only (upstream.tokens.status: state, expiry, key id), opened with
UPSTREAM_TOKEN_KEYS when configured; the token itself is never printed.

Grants are found by SCAN over every grant record in pipelined batches, filtered here (a user's
login case-insensitively, as GitHub compares logins, or the numeric GitHub id, which survives
renames). Revocation goes through store.grants.revoke_grant, which deletes the grant and each
access-token record and publishes every jti on the revocation channel, so verifiers refuse at
once. ``authgate tokens revoke --user`` is ``revoke_user`` too: one implementation.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis.asyncio as aioredis

from authgate_shared import redis_keys

from ..store import grants as grants_store
from ..store.clients import client_key, live_client
from ..store.grants import Grant, parse_grant
from . import grants_view
from .common import BATCH, NOT_FOUND, OK, Admin, CommandError, hgetall_many, scan, text

Fields = dict[str, str]


@dataclass(frozen=True)
class UserFilter:
    """Whose grants: a login (case-insensitive) or a numeric GitHub id; neither: everyone's.

    Matched on the raw hash fields, so revocation also reaches a damaged grant record that
    no longer parses as a whole grant (fail closed)."""

    login: str | None = None
    github_id: str | None = None

    def matches(self, fields: Fields) -> bool:
        if self.login is not None and fields.get("username", "").lower() != self.login.lower():
            return False
        return self.github_id is None or fields.get("github_id") == self.github_id

    def as_dict(self) -> dict[str, str]:
        return (
            {"user": self.login} if self.login is not None else {"github_id": str(self.github_id)}
        )


def _parse(admin: Admin, grant_id: str, fields: Fields) -> Grant | None:
    """The grant, or None (reported on stderr) for a hash that is not a whole grant, e.g. one
    damaged outside the issuer: a listing must not stop at it."""
    try:
        return parse_grant(grant_id, fields)
    except (KeyError, ValueError, TypeError, orjson.JSONDecodeError):
        admin.err.write(f"authgate: grant {grant_id}: not a complete grant record, skipped\n")
        return None


async def find_grants(
    redis: aioredis.Redis, keep: Callable[[Fields], bool]
) -> AsyncIterator[list[tuple[str, Fields]]]:
    """(grant id, hash fields) of every live grant that ``keep`` accepts, in batches; each
    grant once (SCAN may return a key twice)."""
    seen: set[str] = set()
    async for keys in scan(redis, redis_keys.all_grants_pattern()):
        fresh = [k for k in keys if k not in seen]
        seen.update(fresh)
        replies = await hgetall_many(redis, fresh)
        found = [
            (redis_keys.id_from_key(key), fields)
            for key, (fields, _) in zip(fresh, replies, strict=True)
            if fields and keep(fields)
        ]
        if found:
            yield found


@dataclass
class Revoked:
    grants: int = 0
    jtis: list[str] = field(default_factory=list)


async def revoke_user(redis: aioredis.Redis, who: UserFilter) -> Revoked:
    """Revoke every grant of the user with its access tokens (each jti published once).

    Grants are found by scanning grant records, since an index of access tokens misses grants
    whose access tokens all expired. For a login, any access token still indexed under it
    (``user_tokens``) is revoked too; that index is keyed by login, so a GitHub id cannot
    name its entries safely (a login may have changed hands) and is matched on grants only."""
    revoked = Revoked()
    ids = [grant_id async for batch in find_grants(redis, who.matches) for grant_id, _ in batch]
    for grant_id in ids:
        existed, jtis = await grants_store.revoke_grant(redis, grant_id)
        revoked.grants += existed
        revoked.jtis += jtis
    if who.login is not None:
        index = redis_keys.user_tokens(who.login)
        while members := [text(m) for m in await redis.zrange(index, 0, BATCH - 1)]:
            for jti in members:
                if await grants_store.revoke_token(redis, jti):
                    revoked.jtis.append(jti)
            await redis.zrem(index, *members)
    return revoked


async def revoke_user_command(admin: Admin, who: UserFilter) -> dict[str, Any]:
    """``revoke_user`` with the result both ``grants revoke`` and ``tokens revoke`` print;
    CommandError (not found) when the user had nothing live."""
    revoked = await revoke_user(admin.redis, who)
    if not revoked.grants and not revoked.jtis:
        name = f"user {who.login}" if who.login is not None else f"GitHub id {who.github_id}"
        raise CommandError(f"{name} has no live grants", NOT_FOUND)
    return who.as_dict() | {"grants_revoked": revoked.grants, "tokens_revoked": len(revoked.jtis)}


async def client_names(
    redis: aioredis.Redis, client_ids: set[str], now: float
) -> dict[str, str | None]:
    """The registered ``client_name`` of each client, one round trip; None when the client is
    gone or unnamed."""
    ids = sorted(i for i in client_ids if client_key(i) is not None)
    names: dict[str, str | None] = dict.fromkeys(client_ids)
    if not ids:
        return names
    async with redis.pipeline(transaction=False) as pipe:
        for client_id in ids:
            pipe.get(redis_keys.client(client_id))
        replies = await pipe.execute()
    for client_id, raw in zip(ids, replies, strict=True):
        record = live_client(raw, now)
        if record is not None:
            name = record.metadata.get("client_name")
            names[client_id] = None if name is None else str(name)
    return names


def _user_filter(args: argparse.Namespace) -> UserFilter:
    return UserFilter(login=args.user, github_id=args.github_id)


async def list_grants(args: argparse.Namespace, admin: Admin) -> int:
    who = _user_filter(args)

    def keep(fields: Fields) -> bool:
        return who.matches(fields) and args.client in (None, fields.get("client_id"))

    found = [
        grant
        async for batch in find_grants(admin.redis, keep)
        for grant_id, fields in batch
        if (grant := _parse(admin, grant_id, fields)) is not None
    ]
    found.sort(key=lambda g: (g.username.lower(), g.created_at, g.grant_id))
    now = admin.now()
    names = await client_names(admin.redis, {g.client_id for g in found}, now)
    keys = admin.settings.upstream_token_keys
    rows = [grants_view.summary(g, names[g.client_id], keys=keys, now=int(now)) for g in found]
    if args.json:
        admin.json(rows)
        return OK
    grants_view.print_table(admin, rows)
    return OK


async def show(args: argparse.Namespace, admin: Admin) -> int:
    grant_id: str = args.grant_id
    raw = {} if "{" in grant_id or "}" in grant_id else await _hgetall(admin, grant_id)
    grant = _parse(admin, grant_id, raw) if raw else None
    if grant is None:
        raise CommandError(f"no live grant {grant_id}", NOT_FOUND)
    now = admin.now()
    names = await client_names(admin.redis, {grant.client_id}, now)
    keys = admin.settings.upstream_token_keys
    details = grants_view.summary(grant, names[grant.client_id], keys=keys, now=int(now))
    details |= {
        "groups": grant.groups,
        "membership_checked_at": grant.membership_checked_at or None,
        "access_tokens": await _live_tokens(admin.redis, grant_id),
    }
    if args.json:
        admin.json(details)
    else:
        grants_view.print_details(admin, details)
    return OK


async def _hgetall(admin: Admin, grant_id: str) -> dict[str, str]:
    raw = await admin.redis.hgetall(redis_keys.grant(grant_id))
    return {text(k): text(v) for k, v in raw.items()}


async def _live_tokens(redis: aioredis.Redis, grant_id: str) -> int:
    """Access tokens of the grant whose records still exist (the jti set may hold expired
    ones until pruned)."""
    jtis = [text(j) for j in await redis.smembers(redis_keys.grant_tokens(grant_id))]
    if not jtis:
        return 0
    async with redis.pipeline(transaction=False) as pipe:
        for jti in jtis:
            pipe.exists(redis_keys.token(jti))
        return sum(int(n) for n in await pipe.execute())


async def revoke(args: argparse.Namespace, admin: Admin) -> int:
    result: dict[str, Any]
    if args.grant_id is not None:
        grant_id: str = args.grant_id
        existed, jtis = (
            (False, [])
            if "{" in grant_id or "}" in grant_id
            else await grants_store.revoke_grant(admin.redis, grant_id)
        )
        if not existed:
            raise CommandError(f"no live grant {grant_id}", NOT_FOUND)
        result = {"grant_id": grant_id, "grants_revoked": 1, "tokens_revoked": len(jtis)}
    else:
        result = await revoke_user_command(admin, _user_filter(args))
    if args.json:
        admin.json(result)
    else:
        admin.say("revoked: " + ", ".join(f"{k}={v}" for k, v in result.items()))
    return OK


def _user_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    who = parser.add_mutually_exclusive_group(required=required)
    if required:
        who.add_argument("grant_id", nargs="?", metavar="GRANT_ID", help="one grant")
    who.add_argument("--user", metavar="LOGIN", help="a GitHub login (any case)")
    who.add_argument("--github-id", metavar="ID", help="a numeric GitHub user id")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("grants", help="users' grants, upstream token status, revocation")
    sub = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    parser = sub.add_parser("list", help="live grants with their upstream token status")
    _user_options(parser, required=False)
    parser.add_argument("--client", metavar="ID", help="only this client's grants")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=list_grants)
    parser = sub.add_parser("show", help="one grant in detail (never its upstream token)")
    parser.add_argument("grant_id", metavar="GRANT_ID")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=show)
    parser = sub.add_parser("revoke", help="revoke a grant or all of a user's (verifiers told)")
    _user_options(parser, required=True)
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=revoke)
