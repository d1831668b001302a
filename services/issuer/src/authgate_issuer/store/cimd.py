"""Storage of Client ID Metadata Document clients, shared by every replica.

A document that passed validation is stored as an ordinary client record
(``oauth:client:{<url>}``, ``expires_at`` 0, no secret, no registration token), so the token,
refresh, revocation and introspection paths read it exactly like a registered client. Its
freshness lives beside it in ``oauth:cimd:{<url>}`` (redis_keys.cimd_status): present while the
document may be used without fetching it again (its HTTP cache lifetime, clamped), or holding
the reason of the last failure for CIMD_NEGATIVE_CACHE_SECONDS.

The record outlives its freshness by ``keep`` seconds: a request that found it fresh must still
read it a moment later (the token endpoint reads the client again after minting, and a missing
client would revoke the new grant), and ``authgate clients`` lists recently used documents. A
stale record is never used to decide anything: the resolver fetches first.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
import redis.asyncio as aioredis

from authgate_shared import redis_keys

from .clients import ClientRecord, live_client


@dataclass(frozen=True)
class Cached:
    record: ClientRecord | None
    fresh: bool
    """The status key says the record may be used without a fetch."""
    failure: str | None
    """Why the last fetch or validation failed, while that is remembered."""


async def read(redis: aioredis.Redis, client_id: str, now: float) -> Cached:
    """The stored record and its status (one round trip)."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.get(redis_keys.cimd_status(client_id))
        pipe.get(redis_keys.client(client_id))
        status_raw, record_raw = await pipe.execute()
    status = orjson.loads(status_raw) if status_raw is not None else {}
    failure = status.get("failure") if isinstance(status, dict) else None
    return Cached(
        record=live_client(record_raw, now),
        fresh=bool(status) and failure is None,
        failure=str(failure) if failure is not None else None,
    )


async def save(redis: aioredis.Redis, record: ClientRecord, *, fresh_for: int, keep: int) -> None:
    """Store a validated document's client, fresh for ``fresh_for`` seconds (0: fetch again
    next time), kept ``keep`` seconds longer."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.set(redis_keys.client(record.client_id), record.to_json(), ex=fresh_for + keep)
        status = redis_keys.cimd_status(record.client_id)
        if fresh_for > 0:
            pipe.set(status, orjson.dumps({"fetched_at": record.client_id_issued_at}), ex=fresh_for)
        else:
            pipe.delete(status)
        await pipe.execute()


async def save_failure(redis: aioredis.Redis, client_id: str, reason: str, *, ttl: int) -> None:
    """Remember for ``ttl`` seconds (0: not at all) that the document is unusable."""
    if ttl > 0:
        await redis.set(
            redis_keys.cimd_status(client_id), orjson.dumps({"failure": reason}), ex=ttl
        )
