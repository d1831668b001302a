"""Who holds what: live clients, grants (one refresh token each) and access tokens, by SCAN.

One streaming pass over each record type, aggregated into counters (plus the key names seen, as
SCAN may repeat a key). Counts come from the records themselves (their existence means "live"),
never from the index sets, which may hold dead entries.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import orjson
import redis.asyncio as aioredis

from authgate_shared import redis_keys

from ..store.clients import ClientRecord
from .common import get_many, hgetall_many, scan

HOUR = 3600
DAY = 86400


@dataclass
class Usage:
    now: float
    access_by_client: Counter[str] = field(default_factory=Counter)
    access_by_user: Counter[str] = field(default_factory=Counter)
    refresh_by_client: Counter[str] = field(default_factory=Counter)
    refresh_by_user: Counter[str] = field(default_factory=Counter)
    last_issued: dict[str, int] = field(default_factory=dict)
    """client id -> newest ``created_at`` among its live access tokens."""
    issued: Counter[str] = field(default_factory=Counter)
    """Access tokens issued in the last ``hour``/``day`` (of those still live)."""
    grants_created: Counter[str] = field(default_factory=Counter)

    def _windows(self, created: float, counter: Counter[str]) -> None:
        age = self.now - created
        if age <= HOUR:
            counter["hour"] += 1
        if age <= DAY:
            counter["day"] += 1

    def add_token(self, record: dict[str, object]) -> None:
        client_id, user = str(record.get("client_id", "")), str(record.get("user_id", ""))
        created = int(str(record.get("created_at", 0)))
        self.access_by_client[client_id] += 1
        self.access_by_user[user.lower()] += 1
        self.last_issued[client_id] = max(self.last_issued.get(client_id, 0), created)
        self._windows(created, self.issued)

    def add_grant(self, fields: dict[str, str]) -> None:
        self.refresh_by_client[fields.get("client_id", "")] += 1
        self.refresh_by_user[fields.get("username", "").lower()] += 1
        self._windows(int(fields.get("created_at", "0")), self.grants_created)


async def load_clients(redis: aioredis.Redis) -> list[tuple[ClientRecord, int]]:
    """Every stored client with its remaining TTL in ms (-1: none), sorted by issue time."""
    found: dict[str, tuple[ClientRecord, int]] = {}
    async for keys in scan(redis, redis_keys.all_clients_pattern()):
        for raw, ttl in await get_many(redis, keys):
            if raw is not None:
                record = ClientRecord.from_json(raw)
                found[record.client_id] = (record, ttl)
    return sorted(found.values(), key=lambda item: (item[0].client_id_issued_at, item[0].client_id))


async def collect(redis: aioredis.Redis, now: float) -> Usage:
    usage = Usage(now=now)
    seen: set[str] = set()  # SCAN may return a key more than once
    async for keys in scan(redis, redis_keys.all_tokens_pattern()):
        fresh = [k for k in keys if k not in seen]
        seen.update(fresh)
        for raw, _ in await get_many(redis, fresh):
            if raw is not None:
                usage.add_token(dict(orjson.loads(raw)))
    seen.clear()
    async for keys in scan(redis, redis_keys.all_grants_pattern()):
        fresh = [k for k in keys if k not in seen]
        seen.update(fresh)
        for fields, _ in await hgetall_many(redis, fresh):
            if fields:
                usage.add_grant(fields)
    return usage
