"""``authgate purge-expired``: drop dead index entries and the grants of deleted clients.

Records expire by their Redis TTLs (and SCAN itself makes Redis reclaim expired keys it passes);
what TTLs cannot clean are *index* entries pointing at records that are gone, and grants that
outlive their client. Safe while serving: only SCAN, small batches, and every removal is of
something that can no longer come back. One race needs care: ``create_grant`` indexes a grant
under its client just before writing the grant itself, so a missing grant whose index entry is
younger than ``GRACE`` seconds is left alone.
"""

from __future__ import annotations

import argparse
from collections import Counter

from authgate_shared import redis_keys

from ..store import grants as grants_store
from ..store.clients import ClientRecord
from .common import OK, Admin, get_many, scan, text

GRACE = 300


class Purge:
    def __init__(self, admin: Admin, progress_every: int) -> None:
        self.admin, self.redis = admin, admin.redis
        self.now = admin.now()
        self.counts: Counter[str] = Counter()
        self.progress_every = progress_every
        self._next_report = progress_every

    def scanned(self, n: int, phase: str) -> None:
        self.counts["keys_scanned"] += n
        if self.progress_every and self.counts["keys_scanned"] >= self._next_report:
            self._next_report += self.progress_every
            self.admin.err.write(f"purge: {self.counts['keys_scanned']} keys scanned ({phase})\n")
            self.admin.err.flush()

    async def _exists(self, keys: list[str]) -> list[bool]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.exists(key)
            return [bool(n) for n in await pipe.execute()]

    async def clients(self) -> None:
        """Client records past their ``expires_at`` that lost their TTL (never by design)."""
        async for keys in scan(self.redis, redis_keys.all_clients_pattern()):
            self.scanned(len(keys), "clients")
            for raw, _ in await get_many(self.redis, keys):
                record = None if raw is None else ClientRecord.from_json(raw)
                if record is not None and record.is_expired(self.now):
                    await self.redis.delete(redis_keys.client(record.client_id))
                    self.counts["clients_expired"] += 1

    async def client_grants(self) -> None:
        newest = self.now + self.admin.settings.refresh_token_lifetime - GRACE
        async for keys in scan(self.redis, redis_keys.all_client_grants_pattern()):
            self.scanned(len(keys), "client grant indexes")
            ids = [redis_keys.id_from_key(k) for k in keys]
            alive = await self._exists([redis_keys.client(i) for i in ids])
            for key, client_id, present in zip(keys, ids, alive, strict=True):
                if not present:
                    self.counts["grants_of_deleted_clients"] += await grants_store.revoke_client(
                        self.redis, client_id
                    )
                    continue
                self.counts["client_grants_entries"] += await self.redis.zremrangebyscore(
                    key, "-inf", self.now
                )
                # Score = the grant's expiry, so a recent one means a just-created grant.
                old = await self.redis.zrangebyscore(key, "-inf", newest)
                gids = [text(m) for m in old]
                live = await self._exists([redis_keys.grant(g) for g in gids])
                dead = [g for g, ok in zip(gids, live, strict=True) if not ok]
                if dead:
                    self.counts["client_grants_entries"] += await self.redis.zrem(key, *dead)

    async def orphan_grants(self) -> None:
        """Grants whose client is gone but which no index names any more."""
        async for keys in scan(self.redis, redis_keys.all_grants_pattern()):
            self.scanned(len(keys), "grants")
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hget(key, "client_id")
                owners = await pipe.execute()
            clients = [text(o) if o is not None else "" for o in owners]
            alive = await self._exists([redis_keys.client(c) for c in clients if c])
            present = dict(zip([c for c in clients if c], alive, strict=True))
            for key, client_id in zip(keys, clients, strict=True):
                if client_id and not present[client_id]:
                    existed, _ = await grants_store.revoke_grant(
                        self.redis, redis_keys.id_from_key(key)
                    )
                    self.counts["grants_of_deleted_clients"] += existed

    async def jti_sets(self) -> None:
        """Per-grant jti sets and per-user indexes: drop jtis whose token record is gone."""
        for pattern, label in (
            (redis_keys.all_grant_tokens_pattern(), "grant_tokens_entries"),
            (redis_keys.all_user_tokens_pattern(), "user_tokens_entries"),
        ):
            async for keys in scan(self.redis, pattern):
                self.scanned(len(keys), label.removesuffix("_entries"))
                for key in keys:
                    await self._prune_jtis(key, label)

    async def _prune_jtis(self, key: str, label: str) -> None:
        if label == "user_tokens_entries":
            self.counts[label] += await self.redis.zremrangebyscore(key, "-inf", self.now)
            jtis = [text(j) for j in await self.redis.zrange(key, 0, -1)]
        else:
            gid = redis_keys.id_from_key(key)
            if not await self.redis.exists(redis_keys.grant(gid)):
                # The grant is gone, so nothing can mint into this set again.
                self.counts["orphan_sets"] += await self.redis.delete(
                    key, redis_keys.grant_rotated(gid)
                )
                return
            jtis = [text(j) for j in await self.redis.smembers(key)]
        live = await self._exists([redis_keys.token(j) for j in jtis])
        dead = [j for j, ok in zip(jtis, live, strict=True) if not ok]
        if dead and label == "user_tokens_entries":
            self.counts[label] += await self.redis.zrem(key, *dead)
        elif dead:
            self.counts[label] += await self.redis.srem(key, *dead)


async def purge_expired(args: argparse.Namespace, admin: Admin) -> int:
    purge = Purge(admin, args.progress_every)
    await purge.clients()
    await purge.client_grants()
    await purge.orphan_grants()
    await purge.jti_sets()
    names = ["clients_expired", "grants_of_deleted_clients", "client_grants_entries"]
    names += ["grant_tokens_entries", "user_tokens_entries", "orphan_sets", "keys_scanned"]
    result = {name: purge.counts[name] for name in names}
    if args.json:
        admin.json(result)
    else:
        admin.table(["ITEM", "COUNT"], [[n.replace("_", " "), v] for n, v in result.items()])
    return OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "purge-expired", help="remove dead index entries and grants of deleted clients"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--progress-every",
        type=int,
        default=10000,
        metavar="N",
        help="report progress on stderr every N keys scanned (0: never)",
    )
    parser.set_defaults(handler=purge_expired)
