"""``authgate purge-expired --scan``: the full repair, by SCAN over every client, grant and index.

Normal operation leaves nothing for it (see purge_due); it repairs what only damage done outside
the issuer, or data from before the expiry schedule existed, can leave: client records past their
``expires_at`` that lost their TTL, grants whose client is gone (found through the client's index,
or by reading every grant when the index was lost too), index entries and jti sets pointing at
records that are gone, and registrations missing from the expiry schedule. Its cost grows with
the whole keyspace (SCAN itself also makes Redis reclaim the expired keys it passes).

A client whose id is a URL (a Client ID Metadata Document) has no registration that could be
deleted: its record is only a cache of its document, which comes and goes. Its grants are never
"of a deleted client"; they end by their own expiry, revocation, or ``authgate clients delete``.

Safe while serving: only SCAN, small batches, and every removal is of something that can no
longer come back. One race needs care: ``create_grant`` indexes a grant under its client just
before writing the grant itself, so a missing grant whose index entry is younger than ``GRACE``
seconds is left alone.
"""

from __future__ import annotations

from authgate_shared import redis_keys

from ..cimd.client_id import is_url_client_id
from ..store import grants as grants_store
from ..store.clients import ClientRecord
from .common import get_many, scan, text
from .purge_due import Tally

GRACE = 300


class Scan:
    def __init__(self, tally: Tally) -> None:
        self.tally, self.counts, self.now = tally, tally.counts, tally.now
        self.redis = tally.admin.redis

    def scanned(self, n: int, phase: str) -> None:
        self.tally.advance("keys_scanned", n, f"keys scanned ({phase})")

    async def _exists(self, keys: list[str]) -> list[bool]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.exists(key)
            return [bool(n) for n in await pipe.execute()]

    async def clients(self) -> None:
        """Client records past their ``expires_at`` that lost their TTL (never by design), and
        schedule entries of live clients that have none (registered before the schedule)."""
        async for keys in scan(self.redis, redis_keys.all_clients_pattern()):
            self.scanned(len(keys), "clients")
            scheduled: dict[str, int] = {}
            for raw, _ in await get_many(self.redis, keys):
                record = None if raw is None else ClientRecord.from_json(raw)
                if record is not None and record.is_expired(self.now):
                    await self.redis.delete(redis_keys.client(record.client_id))
                    self.counts["clients_expired"] += 1
                elif record is not None and record.expires_at:
                    scheduled[record.client_id] = record.expires_at
            if scheduled:
                # Also sets the right score on an existing entry. A client deleted since its
                # record was read gets an entry back; the default purge drops it when it is due.
                added = await self.redis.zadd(redis_keys.CLIENT_EXPIRY, scheduled)
                self.counts["schedule_entries_added"] += int(added or 0)

    async def client_grants(self) -> None:
        newest = self.now + self.tally.admin.settings.refresh_token_lifetime - GRACE
        async for keys in scan(self.redis, redis_keys.all_client_grants_pattern()):
            self.scanned(len(keys), "client grant indexes")
            ids = [redis_keys.id_from_key(k) for k in keys]
            alive = await self._exists([redis_keys.client(i) for i in ids])
            for key, client_id, present in zip(keys, ids, alive, strict=True):
                if not present and not is_url_client_id(client_id):
                    self.counts["grants_of_deleted_clients"] += await grants_store.revoke_client(
                        self.redis, client_id
                    )
                    continue
                await self._prune_grant_index(key, "client_grants_entries", newest)

    async def user_grants(self) -> None:
        """Users' grant indexes (the account page): drop expired and dangling grant ids."""
        newest = self.now + self.tally.admin.settings.refresh_token_lifetime - GRACE
        async for keys in scan(self.redis, redis_keys.all_user_grants_pattern()):
            self.scanned(len(keys), "user grant indexes")
            for key in keys:
                await self._prune_grant_index(key, "user_grants_entries", newest)

    async def _prune_grant_index(self, key: str, label: str, newest: float) -> None:
        self.counts[label] += await self.redis.zremrangebyscore(key, "-inf", self.now)
        # Score = the grant's expiry, so a recent one means a just-created grant.
        old = await self.redis.zrangebyscore(key, "-inf", newest)
        gids = [text(m) for m in old]
        live = await self._exists([redis_keys.grant(g) for g in gids])
        dead = [g for g, ok in zip(gids, live, strict=True) if not ok]
        if dead:
            self.counts[label] += await self.redis.zrem(key, *dead)

    async def orphan_grants(self) -> None:
        """Grants whose client is gone but which no index names any more; and live grants
        missing from their user's index (written before it existed), filed there."""
        async for keys in scan(self.redis, redis_keys.all_grants_pattern()):
            self.scanned(len(keys), "grants")
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hmget(key, "client_id", "github_id", "expiry")
                fields = await pipe.execute()
            await self._file_in_user_index(keys, fields)
            clients = [text(f[0]) if f[0] is not None else "" for f in fields]
            alive = await self._exists([redis_keys.client(c) for c in clients if c])
            present = dict(zip([c for c in clients if c], alive, strict=True))
            for key, client_id in zip(keys, clients, strict=True):
                if client_id and not present[client_id] and not is_url_client_id(client_id):
                    existed, _ = await grants_store.revoke_grant(
                        self.redis, redis_keys.id_from_key(key)
                    )
                    self.counts["grants_of_deleted_clients"] += existed

    async def _file_in_user_index(self, keys: list[str], fields: list[list[object]]) -> None:
        found = []
        for key, (_, github_id, expiry) in zip(keys, fields, strict=True):
            if github_id is not None and text(expiry or "").isdigit():
                found.append((redis_keys.id_from_key(key), text(github_id), int(text(expiry))))
        async with self.redis.pipeline(transaction=False) as pipe:
            for grant_id, github_id, _ in found:
                pipe.zscore(redis_keys.user_grants(github_id), grant_id)
            scores = await pipe.execute()
        now = int(self.now)
        for (grant_id, github_id, expiry), score in zip(found, scores, strict=True):
            if score is None and expiry > now:
                index = redis_keys.user_grants(github_id)
                await grants_store.INDEX(self.redis, keys=[index], args=[grant_id, expiry, now])
                self.counts["user_grants_entries_added"] += 1

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


async def purge_scan(tally: Tally) -> None:
    scan_pass = Scan(tally)
    await scan_pass.clients()
    await scan_pass.client_grants()
    await scan_pass.user_grants()
    await scan_pass.orphan_grants()
    await scan_pass.jti_sets()
