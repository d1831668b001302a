"""Storage of registered clients: ``oauth:client:{client_id}`` (JSON, TTL = CLIENT_LIFETIME).

The record holds the registered metadata and the SHA-256 hashes of the client secret and of the
registration access token, never the secrets themselves. A client that expires also has an entry
in the expiry schedule ``oauth:client_expiry`` (score = ``expires_at``), written with the record
and removed with it, so ``authgate purge-expired`` finds the grants of expired clients without
scanning (redis_keys.CLIENT_EXPIRY). ``expires_at`` never changes after registration (updates
keep it, KEEPTTL keeps the TTL), so the entry is written once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from authgate_shared import redis_keys
from authgate_shared.redis.connection import RedisSettings, wait_for_replicas
from authgate_shared.redis.scripts import Script

from . import batch


@dataclass(frozen=True)
class ClientRecord:
    client_id: str
    metadata: dict[str, Any]
    """The registered RFC 7591 metadata, defaults filled in (what GET /register/{id} returns)."""
    client_id_issued_at: int
    expires_at: int
    """Unix time at which the registration (and its secret) expires; 0 = never."""
    client_secret_hash: str | None = field(default=None, repr=False)
    registration_token_hash: str = field(default="", repr=False)

    @property
    def is_public(self) -> bool:
        return self.metadata.get("token_endpoint_auth_method") == "none"

    @property
    def auth_method(self) -> str:
        return str(self.metadata.get("token_endpoint_auth_method", "client_secret_basic"))

    @property
    def redirect_uris(self) -> list[str]:
        return list(self.metadata.get("redirect_uris", []))

    @property
    def grant_types(self) -> list[str]:
        return list(self.metadata.get("grant_types", ["authorization_code"]))

    @property
    def name(self) -> str:
        return str(self.metadata.get("client_name") or self.client_id)

    def is_expired(self, now: float) -> bool:
        return self.expires_at != 0 and now >= self.expires_at

    def to_json(self) -> bytes:
        # orjson serialises dataclasses natively, field by field in order: the same bytes as
        # dataclasses.asdict, without its deep copy (~37 µs of every registration and update).
        return orjson.dumps(self)

    @classmethod
    def from_json(cls, raw: bytes | str) -> ClientRecord:
        data = orjson.loads(raw)
        return cls(**data)


def client_key(client_id: str) -> str | None:
    """The record's key, or None for an id that no client can have (nothing to look up)."""
    if not client_id or "{" in client_id or "}" in client_id or len(client_id) > 128:
        return None
    return redis_keys.client(client_id)


def live_client(raw: bytes | str | None, now: float) -> ClientRecord | None:
    """The record read from Redis, or None when absent or expired (also enforced by the TTL)."""
    if raw is None:
        return None
    record = ClientRecord.from_json(raw)
    return None if record.is_expired(now) else record


def read_client(client_id: str, *, clock: Callable[[], float]) -> batch.Read[ClientRecord | None]:
    """The client as one pipelined read (store.batch): None when unknown or expired at
    ``clock()`` once the reply is in; no command for an id no client can have."""
    key = client_key(client_id)
    if key is None:
        return batch.constant(None)

    def queue(pipe: Pipeline) -> None:
        pipe.get(key)

    return batch.one_command(queue, lambda raw: live_client(raw, clock()))


async def load_client(redis: aioredis.Redis, client_id: str, now: float) -> ClientRecord | None:
    """The client, or None when unknown or expired."""
    key = client_key(client_id)
    return None if key is None else live_client(await redis.get(key), now)


async def save_client(
    redis: aioredis.Redis,
    record: ClientRecord,
    now: float,
    *,
    durability: RedisSettings | None = None,
) -> None:
    """Create or replace the record, keeping its absolute expiry (never extended by updates).

    With ``durability`` (the issuer's Redis settings) and ``REDIS_WAIT_REPLICAS`` > 0, the
    write counts as done only once that many replicas acknowledged it (``WAIT`` on the same
    connection); else ReplicasNotReached, which the app answers with 503.
    """
    key = redis_keys.client(record.client_id)
    ttl = None if record.expires_at == 0 else max(1, int(record.expires_at - now))
    pipe = redis.pipeline(transaction=False)
    # One round trip. The schedule entry goes first: on one primary a pipeline runs in order,
    # so a dropped connection may leave an entry without its record (purge drops it when due)
    # but never a record the schedule misses. On Cluster the two keys may be on two nodes,
    # written concurrently, and WAIT covers the record's node only; a failed write fails the
    # registration (503, nobody gets the credentials, so no grant can follow), and an entry lost
    # in a failover is what ``purge-expired --scan`` repairs.
    schedule_expiry(pipe, record)
    pipe.set(key, record.to_json(), ex=ttl)
    if durability is None:
        await pipe.execute()
    else:
        await wait_for_replicas(pipe, durability, key=key)


def schedule_expiry(pipe: Pipeline, record: ClientRecord) -> None:
    """Queue the record's entry in the expiry schedule; none for a client that never expires."""
    if record.expires_at != 0:
        pipe.zadd(redis_keys.CLIENT_EXPIRY, {record.client_id: record.expires_at})


# Compare-and-set on the registration token hash, so of two concurrent RFC 7592 updates with the
# same token only one wins (the other's token is already rotated away). KEEPTTL: an update never
# extends the registration's lifetime. One key, so it also runs unchanged on Redis Cluster.
_REPLACE_IF_TOKEN = Script(
    """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
if cjson.decode(raw)['registration_token_hash'] ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1
"""
)


async def replace_client(
    redis: aioredis.Redis, record: ClientRecord, *, expected_token_hash: str
) -> bool:
    """Store ``record`` over the current one if that still has ``expected_token_hash``."""
    keys = [redis_keys.client(record.client_id)]
    return bool(
        await _REPLACE_IF_TOKEN(redis, keys=keys, args=[expected_token_hash, record.to_json()])
    )


async def delete_client(redis: aioredis.Redis, client_id: str) -> bool:
    """Delete the record and its schedule entry (one round trip); True if the record existed.

    Record first: a failure in between leaves an entry whose record is gone, which purge-expired
    handles like any expired client once it is due (revokes what is left, drops the entry).
    """
    async with redis.pipeline(transaction=False) as pipe:
        pipe.delete(redis_keys.client(client_id))
        pipe.zrem(redis_keys.CLIENT_EXPIRY, client_id)
        existed, _ = await pipe.execute()
    return bool(existed)
